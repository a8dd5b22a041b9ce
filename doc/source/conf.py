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

"""Sphinx configuration for the Cinder documentation."""

# -- General configuration ---------------------------------------------------

# oslo_config.sphinxext provides the ``show-options`` directive and the
# ``oslo.config:option`` roles used by the configuration reference.
#
# oslo_config.sphinxconfiggen is deliberately not enabled: it runs the
# config generator for the ``cinder`` namespace on every build and writes a
# sample into the source tree, so the build would break whenever the
# ``oslo.config.opts`` entry point cannot be loaded.  The reviewed sample is
# etc/cinder/cinder.conf.sample (``tox -e genconfig``, checked by pep8).
extensions = [
    'openstackdocstheme',
    'oslo_config.sphinxext',
]

templates_path = []
source_suffix = {'.rst': 'restructuredtext'}
master_doc = 'index'

project = 'cinder'
copyright = 'OpenStack Foundation'

exclude_patterns = []
pygments_style = 'native'
add_module_names = False
show_authors = False

# -- openstackdocstheme ------------------------------------------------------

openstackdocs_repo_name = 'openstack/cinder'
openstackdocs_bug_project = 'cinder'
openstackdocs_bug_tag = 'doc'
openstackdocs_auto_name = False

# -- Options for HTML output -------------------------------------------------

html_theme = 'openstackdocs'
html_static_path = []
htmlhelp_basename = 'cinderdoc'
