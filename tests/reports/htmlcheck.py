"""A small standard-library HTML reader for the report tests."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"meta", "link", "br", "img", "input", "hr", "source", "wbr", "col", "area", "base"}
# SVG elements that are written self-closing (<path ... />) never get an end tag.


class Page(HTMLParser):
    """Collects what the tests look at; fails on unbalanced HTML elements."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.plots: dict[str, int] = {}  # data-plot -> number of <svg> inside
        self.scripts = 0
        self.urls: list[str] = []  # every href/src/xlink:href
        self.text_parts: list[str] = []
        self.dir_auto_text: list[str] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self._plot: str | None = None
        self._plot_depth = 0
        self._dir_auto_depth = 0
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("href", "src", "xlink:href", "action"):
            if a.get(key):
                self.urls.append(a[key])
        if tag == "script":
            self.scripts += 1
        if tag == "section" and "data-section" in a:
            self.sections.append(a["data-section"])
        if tag == "figure" and "data-plot" in a:
            self._plot = a["data-plot"]
            self.plots[self._plot] = 0
        if tag == "svg" and self._plot is not None:
            self.plots[self._plot] += 1
        if a.get("dir") == "auto":
            self._dir_auto_depth = len(self.stack) + 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        a = dict(attrs)
        for key in ("href", "src", "xlink:href"):
            if a.get(key):
                self.urls.append(a[key])

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if tag == "figure":
            self._plot = None
        if self._dir_auto_depth and len(self.stack) < self._dir_auto_depth:
            self._dir_auto_depth = 0
            self.dir_auto_text.append("\n")

    def handle_data(self, data):
        self.text_parts.append(data)
        if self._dir_auto_depth:
            self.dir_auto_text.append(data)
