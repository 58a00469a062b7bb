"""Browser and system names on the sessions page, from the User-Agent string."""

import pytest

from portal.identity.useragent import describe_user_agent

CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
EDGE = CHROME_WIN + " Edg/120.0.2210.91"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1"
    " Mobile/15E148 Safari/604.1"
)
WECHAT_ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; V2219A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/111.0 Mobile"
    " Safari/537.36 MicroMessenger/8.0.44"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (CHROME_WIN, ("Chrome 120", "Windows")),
        (EDGE, ("Edge 120", "Windows")),
        (SAFARI_IPHONE, ("Safari 17", "iPhone")),
        (WECHAT_ANDROID, ("WeChat 8", "Android")),
        (FIREFOX_LINUX, ("Firefox 121", "Linux")),
        ("curl/8.4.0", ("curl", None)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_describe_user_agent(ua, expected):
    assert describe_user_agent(ua) == expected
