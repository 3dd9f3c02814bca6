"""mkdocs hook: a relative link whose target lies outside docs/ is reported at INFO, not WARNING.

The pages link to files beside docs/ (``../README.md``, ``../benchmarks/results/*.md``, ``../examples/...``),
which resolve when the Markdown is read in the repository but are not part of the site. mkdocs reports every
missing link target with one level (``validation.links.not_found``); this hook lowers only those whose
resolved target leaves docs/, so ``mkdocs build --strict`` still fails on a broken link inside docs/.
If mkdocs changes the wording of its message, the outside links fail the strict build again (loudly).
"""

from __future__ import annotations

import logging
import posixpath
import re

_NOT_FOUND = re.compile(
    r"^Doc file '(?P<src>[^']+)' contains a link '(?P<url>[^']+)', but the target.* is not found among "
    r"documentation files\."
)


class _OutsideDocsLinks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING:
            match = _NOT_FOUND.match(record.getMessage())
            if match:
                path = match["url"].split("#", 1)[0].split("?", 1)[0]
                target = posixpath.normpath(posixpath.join(posixpath.dirname(match["src"]), path))
                if target == ".." or target.startswith("../"):
                    record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_FILTER = _OutsideDocsLinks()


def on_startup(command: str, dirty: bool) -> None:
    logger = logging.getLogger("mkdocs.structure.pages")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
