"""Map data in a page's script as `JSON.parse('...')` (`geomap.layers.text.script_parse`): the
browser reads back exactly the data the server serialised, whatever the strings hold, and no
string can end the script element."""
from __future__ import annotations

import random

from geomap.layers.text import script_json, script_parse

CHARS = "ab'\"\\<>&/\n\t\r\u2028\u2029\u00e9\U0001f600</script><!--${}`"


def test_the_browser_parses_back_the_same_data(browser):
    rng = random.Random(16)
    data = [{"s": "".join(rng.choice(CHARS) for _ in range(rng.randint(0, 40))), "n": rng.random(),
             "xs": [rng.randint(-10**6, 10**6) for _ in range(3)]} for _ in range(500)]
    expression = script_parse(script_json(data))
    assert "</script" not in expression.lower() and "<!--" not in expression
    page = browser.new_page()
    try:
        assert page.evaluate(f"() => {expression}") == data
    finally:
        page.close()
