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
"""

import contextlib
import logging
import sys
import threading
import traceback

from cinder.coordination import urls


class ScrubbingFormatter(logging.Formatter):
    """Formats with *inner*, then replaces the process's secrets.

    The whole formatted text is scrubbed: the message, its arguments,
    the traceback with its causes and contexts, and whatever the inner
    formatter adds (oslo.log appends the error being handled).
    """

    def __init__(self, inner=None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record):
        return urls.scrub(self.inner.format(record))


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
