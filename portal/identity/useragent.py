"""Browser and system names from a User-Agent string, for the sessions page ("Chrome 120 · Windows").

Pure module. A rough reading is enough: the point is that a person recognises their own devices; the raw string
stays stored for the administrators' investigations but is not what a page shows.
"""

from __future__ import annotations

import re

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari", WeChat's browser says all of them.
_BROWSERS = (
    ("WeChat", re.compile(r"MicroMessenger/(\d+)")),
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"(?:OPR|Opera)/(\d+)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"(?:Chrome|CriOS)/(\d+)")),
    ("Chromium", re.compile(r"Chromium/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+)[\d.]* (?:Mobile/\S+ )?Safari/")),
)
_SYSTEMS = (
    ("HarmonyOS", re.compile(r"HarmonyOS|OpenHarmony")),
    ("iPhone", re.compile(r"iPhone")),
    ("iPad", re.compile(r"iPad")),
    ("Android", re.compile(r"Android")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
)


def describe_user_agent(user_agent: str | None) -> tuple[str | None, str | None]:
    """Return (browser with its major version, system), each None when it cannot be told."""
    ua = user_agent or ""
    browser = None
    for name, pattern in _BROWSERS:
        match = pattern.search(ua)
        if match:
            browser = f"{name} {match.group(1)}"
            break
    system = next((name for name, pattern in _SYSTEMS if pattern.search(ua)), None)
    if browser is None and re.match(r"(curl|python-requests|Wget)/", ua):
        browser = ua.split("/", 1)[0]
    return browser, system
