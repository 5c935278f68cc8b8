"""The one scrubbing function: secrets out of every string of a payload."""

from __future__ import annotations

from stagent.domain.scrub import REDACTED, normalize, scrub, secret_values

TOKEN = "tok_9f8e7d6c5b4a"


def test_every_string_anywhere_in_a_payload_is_scrubbed() -> None:
    payload = {
        "command": f"cat owner.token && echo {TOKEN}",
        "output": [TOKEN, {"nested": f"x{TOKEN}y"}, 3, None, True],
        TOKEN: "as a key",
    }
    clean = scrub(payload, normalize([TOKEN]))
    assert TOKEN not in repr(clean)
    assert clean["command"] == f"cat owner.token && echo {REDACTED}"
    assert clean["output"][1] == {"nested": f"x{REDACTED}y"}
    assert clean["output"][2:] == [3, None, True]
    assert clean[REDACTED] == "as a key"


class _Text(str):
    """A str subclass (as a StrEnum member is)."""


def test_text_of_a_str_subclass_and_inside_tuples_is_scrubbed_too() -> None:
    payload = {"kind": _Text(f"with {TOKEN}"), "pair": (f"a{TOKEN}", (1.5, TOKEN)), 7: "seven"}
    clean = scrub(payload, normalize([TOKEN]))
    assert clean == {
        "kind": f"with {REDACTED}",
        "pair": [f"a{REDACTED}", [1.5, REDACTED]],
        7: "seven",
    }


def test_a_longer_secret_containing_a_shorter_one_is_replaced_whole() -> None:
    short, long = "abcdefgh", "abcdefgh-and-more"
    assert scrub(f"{long} {short}", normalize([short, long])) == f"{REDACTED} {REDACTED}"


def test_short_values_and_ordinary_variables_are_not_secrets() -> None:
    env = {
        "OPENAI_API_KEY": "sk-abcdef123456",
        "STAGENT_TOKEN": "a-long-enough-token",
        "DB_PASSWORD": "hunter22!",
        "GITHUB_TOKEN": "short",
        "PATH": "/usr/bin:/bin",
        "HOME": "/root",
    }
    assert sorted(secret_values(env)) == ["a-long-enough-token", "hunter22!", "sk-abcdef123456"]
    assert normalize(["", "tiny", "  spaced-secret  "]) == ("spaced-secret",)
    assert scrub("nothing to hide", ()) == "nothing to hide"
