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

"""What every command does with its output at start.

:func:`protect_secrets` keeps the secrets of the configuration (the
passwords in ``[coordination] backend_url``) out of everything the
process writes, whatever code wrote it: log lines and their tracebacks
(every handler's formatter is wrapped), uncaught exceptions (the
``sys`` and ``threading`` hooks) and, with :func:`scrubbed_output`, the
tool's own standard output and error.

:func:`setup_tool_logging` gives the operator tools (``cinder-manage``,
``cinder-status``) their own log output: they read the service's
configuration files, but its ``log_file`` and ``debug`` are the
service's.
"""

import contextlib
import logging
import os
import sys
import threading
import traceback

from oslo_config import cfg

from cinder.coordination import urls

#: The logging options of the tools: command line only, so that the
#: service's [DEFAULT] log_file, log_dir and debug do not apply to them.
tool_logging_opts = [
    cfg.BoolOpt('debug', short='d', dest='tool_debug', default=False,
                help='Log at DEBUG, the lines of the libraries included.'),
    cfg.StrOpt('log-file', dest='tool_log_file', metavar='PATH',
               help='Append the log to this file instead of standard '
                    'error.'),
]


class ScrubbingFormatter(logging.Formatter):
    """Formats with *inner*, then replaces the process's secrets.

    The whole formatted text is scrubbed: the message, its arguments,
    the traceback with its causes and contexts, and whatever the inner
    formatter adds. oslo.log appends ``: <type>: <message>`` of the
    error being handled to each WARNING or ERROR logged in an ``except``
    block; when the line already quotes that error, the addition, which
    would say it twice, is dropped.
    """

    def __init__(self, inner=None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record):
        text = self.inner.format(record)
        summary = getattr(record, 'error_summary', None)
        if summary and not record.exc_info and text.endswith(
                ': ' + summary):
            in_flight = sys.exc_info()[1]
            if in_flight is not None and str(in_flight) and str(
                    in_flight) in record.getMessage():
                text = text[:-len(summary) - 2]
        return urls.scrub(text)


def _handlers():
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)]
    for logger in loggers:
        yield from logger.handlers
    if logging.lastResort is not None:
        yield logging.lastResort


def install_scrubbing():
    """Wrap the formatter of every log handler now configured."""
    for handler in _handlers():
        if not isinstance(handler.formatter, ScrubbingFormatter):
            handler.setFormatter(ScrubbingFormatter(handler.formatter))


def _excepthook(exc_type, exc, tb):
    sys.stderr.write(urls.scrub(
        ''.join(traceback.format_exception(exc_type, exc, tb))))


def _thread_excepthook(args):
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else '?'
    sys.stderr.write('Exception in thread %s:\n' % name)
    _excepthook(args.exc_type, args.exc_value, args.exc_traceback)


def protect_secrets(*secret_urls):
    """Keep the secrets of *secret_urls* out of the process's output.

    Registers them (:func:`cinder.coordination.urls.register`), wraps the
    formatter of every log handler configured so far (call it after the
    logging setup) and scrubs the tracebacks of uncaught exceptions, in
    the main thread and in others. Safe to call more than once.
    """
    for url in secret_urls:
        urls.register(url)
    install_scrubbing()
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


class ScrubbingStream(object):
    """A text stream that scrubs what is written to *stream*."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        return self._stream.write(urls.scrub(text))

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def scrubbed_output():
    """Scrub ``sys.stdout`` and ``sys.stderr`` within the block."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbingStream(saved[0]), ScrubbingStream(
        saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def load_config(conf, argv, prog, error_status, **kwargs):
    """Parse the command line and the configuration files of a command.

    :returns: None, or *error_status* after printing one line,
        ``<prog>: <error>``, on standard error when a configuration file
        is missing, unreadable or malformed, or an option is invalid
        (oslo.config's errors name the file or the option).

    Every command handles these the same way, with the exit status its
    documentation gives. argparse itself exits 2 on an unknown argument.
    """
    try:
        conf(argv, project='cinder', prog=prog, **kwargs)
    except cfg.Error as e:
        print('%s: %s' % (prog, e), file=sys.stderr)
        return error_status
    return None


class _OwnLines(logging.Filter):
    """Only this project's records: the libraries' show with --debug."""

    def filter(self, record):
        return record.name == 'cinder' or record.name.startswith('cinder.')


def setup_tool_logging(conf, prog, stream=None):
    """Send the log of a tool to its standard error, or ``--log-file``.

    :param conf: the tool's configuration, with :data:`tool_logging_opts`
        registered as command-line options and parsed.
    :param prog: the tool's name, the prefix of each line on standard
        error.

    WARNING and above of this project's loggers, one line each
    (``<prog>: WARNING: <message>``, no error summary appended); with
    ``--debug`` every logger at DEBUG, the libraries' included (their
    Python warnings too), with the logger's name after the level. The
    service's ``[DEFAULT] log_file`` is never written to. Install
    :func:`protect_secrets` afterwards.

    :raises cfg.Error: ``--log-file`` cannot be opened (the message names
        the file).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    path = conf.tool_log_file
    if path:
        try:
            handler = logging.FileHandler(os.path.expanduser(path))
        except OSError as e:
            raise cfg.Error('--log-file %s cannot be opened: %s' % (
                path, e)) from None
        handler.setFormatter(logging.Formatter(
            '%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s'))
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter(
            prog + (': %(levelname)s %(name)s: %(message)s'
                    if conf.tool_debug else ': %(levelname)s: %(message)s')))
    if not conf.tool_debug:
        handler.addFilter(_OwnLines())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if conf.tool_debug else logging.WARNING)
    # Python's warnings of the libraries (deprecations) are their lines
    # too: through logging ("py.warnings"), shown with --debug only.
    logging.captureWarnings(True)
