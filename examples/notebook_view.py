"""The report as a notebook shows it: writes notebook_view.html (Report._repr_html_).

Render it in a headless browser to look at it, e.g. with Debian's chromium::

    python examples/notebook_view.py
    chromium --headless --no-sandbox --disable-gpu --screenshot=examples/notebook_view.png \\
        --window-size=1100,900 file://$PWD/notebook_view.html
"""

from pathlib import Path

from verifier import check_network
from verifier.frontends import published as seeds

if __name__ == "__main__":
    net, params, X, Y, backward = seeds.KNOWN_BUGS["notebook-planted"].make()
    report = check_network(net, params, X, Y, backward=backward)
    page = f"<html><head><meta charset='utf-8'></head><body>{report._repr_html_()}</body></html>"
    Path("notebook_view.html").write_text(page, encoding="utf-8")
    print("wrote notebook_view.html:", report.status)
