"""The common user mistakes: each error says what happened *and* what to do.

A new user meets these first; a message that only says "KeyError: 'TIC-101.pv'" sends them to the
source. Each test triggers the mistake the way a user would and checks the message for both
halves: the fact (naming the offending input) and the fix (naming the call or key to use).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import historian
from historian.acquisition import load_config, loads
from historian.errors import (
    ConfigError,
    HistorianError,
    InvalidArgumentError,
    InvalidDataError,
    InvalidTagNameError,
    InvalidTimeError,
    ReadOnlyStoreError,
    StoreClosedError,
    StoreLockedError,
    TagNotFoundError,
)


@pytest.fixture
def h(tmp_path):
    with historian.open(tmp_path / "plant.hist") as store:
        store.define("TIC-101.PV", unit="degC")
        store.write("TIC-101.PV", ["2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"], [20.0, 21.0])
        yield store


# ---------------------------------------------------------------------------- unknown tag
def test_unknown_tag_says_how_to_define_or_list(h):
    with pytest.raises(TagNotFoundError) as err:
        h.read("FIC-999.PV")
    msg = str(err.value)
    assert "unknown tag 'FIC-999.PV'" in msg  # what happened
    assert "h.define('FIC-999.PV'" in msg and "h.tags()" in msg  # what to do
    assert isinstance(err.value, KeyError)  # `except KeyError` keeps working


def test_unknown_tag_with_wrong_case_suggests_the_right_name(h):
    with pytest.raises(TagNotFoundError, match=r"Did you mean 'TIC-101.PV'\?.*case-sensitive"):
        h.summary("tic-101.pv", "2026-01-01", "2026-01-02", "1h")


def test_write_to_an_undefined_tag_and_write_table_with_unknown_tags(h):
    with pytest.raises(TagNotFoundError, match=r"define it first with h.define\('LIC-1'"):
        h.write("LIC-1", [0], [1.0])
    import pyarrow as pa

    table = pa.table({"tag": ["TIC-101.PV", "X1", "X2"], "time": [0, 0, 0], "value": [1.0] * 3})
    with pytest.raises(TagNotFoundError) as err:
        h.write_table(table)
    msg = str(err.value)
    assert "['X1', 'X2']" in msg and "h.define" in msg and "nothing was written" in msg


def test_invalid_tag_name_says_which_characters_are_allowed(h):
    with pytest.raises(InvalidTagNameError) as err:
        h.define("TIC 101; DROP TABLE points")
    msg = str(err.value)
    assert "TIC 101; DROP TABLE points" in msg
    assert "letters" in msg and "digits" in msg


# ---------------------------------------------------------------------------- bad times
@pytest.mark.parametrize("when", ["yesterday", "2026-13-45", "01/02/2026 10:00"])
def test_bad_time_string_names_the_accepted_forms(h, when):
    with pytest.raises(InvalidTimeError) as err:
        h.read("TIC-101.PV", when, "now")
    msg = str(err.value)
    assert repr(when) in msg  # what happened
    assert "ISO 8601" in msg and "now-1h" in msg  # what to do
    assert isinstance(err.value, ValueError)


def test_float_times_are_refused_with_the_alternatives(h):
    with pytest.raises(InvalidTimeError, match=r"floats.*int nanoseconds.*ISO"):
        h.write("TIC-101.PV", np.array([1.7e9, 1.7e9 + 1]), [1.0, 2.0])


def test_end_before_start_and_a_bad_interval(h):
    with pytest.raises(InvalidArgumentError, match=r"end .* must be after start"):
        h.summary("TIC-101.PV", "2026-01-02", "2026-01-01", "1h")
    with pytest.raises(InvalidArgumentError) as err:
        h.summary("TIC-101.PV", "2026-01-01", "2026-01-02", "one hour")
    assert "'one hour'" in str(err.value) and "1min" in str(err.value)


# ---------------------------------------------------------------------------- wrong dtype
def test_text_values_say_what_to_convert(h):
    with pytest.raises(InvalidDataError) as err:
        h.write("TIC-101.PV", ["2026-01-01T00:00:02Z"], ["21.5 degC"])
    msg = str(err.value)
    assert "values must be numbers" in msg and "got dtype <U9" in msg  # what happened
    assert "float(...)" in msg  # what to do
    assert isinstance(err.value, TypeError)
    with pytest.raises(InvalidDataError, match=r"values must be numbers.*got 'n/a'"):
        h.write("TIC-101.PV", [0, 1], np.array([1.0, "n/a"], dtype=object))  # names the culprit


def test_string_dtype_values_suggest_float_or_a_state_table(h):
    with pytest.raises(InvalidDataError, match=r"dtype <U4.*float\(...\).*state table"):
        h.write("TIC-101.PV", [0, 1], np.array(["open", "shut"]))


def test_mismatched_lengths_and_bad_quality(h):
    with pytest.raises(InvalidDataError, match=r"3 times but 2 values.*same length"):
        h.write("TIC-101.PV", [0, 1, 2], [1.0, 2.0])
    with pytest.raises(InvalidDataError, match=r"quality must be integer OPC UA StatusCodes"):
        h.write("TIC-101.PV", [0, 1], [1.0, 2.0], quality=np.array([0.0, 0.5]))


def test_write_table_without_the_long_columns(h):
    import pandas as pd

    wide = pd.DataFrame({"time": [0], "TIC-101.PV": [1.0]})
    with pytest.raises(InvalidDataError) as err:
        h.write_table(wide)
    msg = str(err.value)
    assert "lacks column(s) ['tag', 'value']" in msg and "tag, time, value" in msg


# ---------------------------------------------------------------------------- the store
_HOLDER = textwrap.dedent(
    """
    import sys, time, historian
    h = historian.open(sys.argv[1], mode="w")
    print("locked", flush=True)
    sys.stdin.readline()          # hold the writer lock until the test closes stdin
    h.close()
    """
)


def test_store_locked_by_another_writer_says_how_to_read_it(tmp_path):
    path = str(tmp_path / "shared.hist")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLockedError) as err:
            historian.open(path, mode="w")
        msg = str(err.value)
        assert "being written by another process" in msg and f"pid {holder.pid}" in msg
        assert "mode='r'" in msg and "only one writer" in msg
        # the usual notebook case: open (auto), read fine, then try to write
        with historian.open(path) as reader:
            assert reader.tags().num_rows == 0
            with pytest.raises(StoreLockedError, match=r"mode='r'"):
                reader.define("A")
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
    with historian.open(path) as h:  # the kernel freed the lock: writing works again
        h.define("A")


def test_read_only_and_closed_stores_say_how_to_reopen(h):
    with (
        historian.open(h.path, mode="r") as ro,
        pytest.raises(ReadOnlyStoreError, match=r"mode='r'.*mode='auto' or 'w'"),
    ):
        ro.define("B")
    h.close()
    with pytest.raises(StoreClosedError, match=r"is closed; open it again with historian.open\(\)"):
        h.read("TIC-101.PV")


def test_missing_store_in_read_only_mode(tmp_path):
    with pytest.raises(
        historian.errors.StoreError, match=r"no store at .*mode='r' does not create"
    ):
        historian.open(tmp_path / "typo.hist", mode="r")


# ---------------------------------------------------------------------------- acquisition config
_INSECURE = """
[store]
path = "plant.hist"

[[opcua]]
name = "reactor"
url = "opc.tcp://10.0.0.9:4840"
security_policy = "None"

  [[opcua.points]]
  tag = "TIC-101.PV"
  node = "nsu=urn:example:plant;s=Reactor.Temperature"
"""


def test_insecure_opcua_endpoint_is_refused_with_both_fixes(tmp_path):
    path = tmp_path / "plant.toml"
    path.write_text(_INSECURE)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert msg.startswith("opcua[0].security_policy")  # which key
    assert "unsigned" in msg and "refused" in msg  # what happened
    assert 'security_policy = "Basic256Sha256"' in msg and "allow_insecure = true" in msg  # fixes
    # and once allowed explicitly, it loads
    cfg = loads(
        _INSECURE.replace(
            'security_policy = "None"', 'security_policy = "None"\nallow_insecure = true'
        )
    )
    assert cfg.opcua[0].allow_insecure


def test_secure_opcua_without_a_certificate_names_the_key(tmp_path):
    text = _INSECURE.replace('security_policy = "None"', 'security_policy = "Basic256Sha256"')
    with pytest.raises(ConfigError, match=r"opcua\[0\]\.certificate: missing.*pki/client"):
        loads(text)


def test_config_typos_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"opcua\[0\]\.securty_policy: unknown key"):
        loads(_INSECURE.replace("security_policy", "securty_policy"))


def test_every_error_is_a_historian_error():
    for name in historian.errors.__all__:
        assert issubclass(getattr(historian.errors, name), HistorianError)
