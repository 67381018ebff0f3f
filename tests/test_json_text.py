"""The JSON files karstsink writes (karstsink.io.write.json_text)."""

from __future__ import annotations


def test_json_text_is_strict_json_with_numpy_values_and_no_nan():
    import json
    from pathlib import Path

    import numpy as np

    from karstsink.io.write import json_text

    doc = {"n": np.int64(3), "x": np.float64(0.1), "bad": float("nan"), "inf": np.inf,
           "arr": np.array([1.0, np.nan]), "where": Path("out") / "a.csv", "名": "普定",
           np.int32(2020): (1, None)}
    text = json_text(doc)
    assert text.endswith("}\n") and "普定" in text  # UTF-8 text, not \u escapes

    def refuse(name):  # a strict reader: NaN and Infinity are not JSON
        raise AssertionError(f"{name} in karstsink JSON")

    back = json.loads(text, parse_constant=refuse)
    assert back == {"n": 3, "x": 0.1, "bad": None, "inf": None, "arr": [1.0, None],
                    "where": str(Path("out") / "a.csv"), "名": "普定", "2020": [1, None]}


def test_a_tag_is_one_line_with_sorted_keys_and_no_nan():
    import json

    import numpy as np

    from karstsink.io.write import json_text

    text = json_text({"b": np.float32(0.5), "a": [float("nan"), "水"]}, tag=True)
    assert text == '{"a": [null, "水"], "b": 0.5}'
    assert json.loads(text) == {"a": [None, "水"], "b": 0.5}


def test_dates_are_iso_text_and_a_nan_key_is_null():
    import json

    import numpy as np

    from karstsink.io.write import json_text

    doc = {"start": np.datetime64("2020-01-31T00:00:00.000000000"), "gap": np.timedelta64(7, "D"),
           "none": np.datetime64("NaT"), float("nan"): 1, np.datetime64("2021-06-01"): 2}
    back = json.loads(json_text(doc))
    # written out by hand: the ISO text numpy prints, never integer nanoseconds
    assert back == {"start": "2020-01-31T00:00:00.000000000", "gap": "7 days", "none": None,
                    "null": 1, "2021-06-01": 2}
