# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Sphinx configuration for the Cinder release notes."""

# reno.sphinxext provides the ``release-notes`` directive, which reads the
# notes under releasenotes/notes from the git history.
extensions = [
    'openstackdocstheme',
    'reno.sphinxext',
]

templates_path = []
source_suffix = {'.rst': 'restructuredtext'}
master_doc = 'index'

project = 'Cinder Release Notes'
copyright = 'OpenStack Foundation'

# Release notes are not versioned like the code; the notes carry the
# release they belong to.
version = ''
release = ''

exclude_patterns = []
pygments_style = 'native'

# -- openstackdocstheme ------------------------------------------------------

openstackdocs_repo_name = 'openstack/cinder'
openstackdocs_bug_project = 'cinder'
openstackdocs_bug_tag = 'releasenotes'
openstackdocs_auto_name = False

# -- Options for HTML output -------------------------------------------------

html_theme = 'openstackdocs'
html_static_path = []
htmlhelp_basename = 'CinderReleaseNotesdoc'
