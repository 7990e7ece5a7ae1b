"""Store-side input hygiene (issue 10, item 5): secrets out of reprs, no terminal escapes.

A tag's unit and description are free text that whoever defines the tag controls; a terminal
that prints them must not run their escape sequences. S3 credentials given to
``historian.open`` must never appear in a repr (and so never in a log line or a traceback).
"""

from __future__ import annotations

import historian
from historian.cli import main
from historian.storage.fs import S3Options

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def test_repr_of_s3_options_hides_the_secret_key():
    options = S3Options.resolve(
        {"endpoint_url": "http://127.0.0.1:9", "access_key_id": "AKIDEXAMPLE",
         "secret_access_key": SECRET, "session_token": "tok-" + SECRET, "allow_http": True}
    )  # fmt: skip
    assert options.secret_access_key == SECRET  # still usable
    text = repr(options) + str(options)
    assert SECRET not in text
    assert "AKIDEXAMPLE" in text  # the key id is not a secret: it says which credentials


def test_info_strips_terminal_control_characters_from_units_and_descriptions(tmp_path, capsys):
    store = tmp_path / "plant.hist"
    hostile = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred"
    with historian.open(store) as h:
        h.define("TIC-101.PV", unit="degC\x1b[8m", description=hostile)
        h.write("TIC-101.PV", [0], [1.0])
    assert main(["info", str(store)]) == 0
    out = capsys.readouterr().out
    assert "TIC-101.PV" in out
    assert "\x1b" not in out and "\x07" not in out
    assert "red" in out and "degC" in out  # the printable text is kept
