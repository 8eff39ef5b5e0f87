"""stackctl reads a project's `.env` the way Compose does.

One tricky `.env` (quotes, escapes, inline comments, `export`, CRLF lines,
empty values, multi-line values, `${...}` interpolation, a variable the
process environment overrides) and a compose file that echoes every
variable into `environment:`. `docker-compose config` (Debian's 1.29, no
engine needed) prints what Compose read; the hidden `stackctl dotenv`
prints what stackctl read (the same `Project` code every subcommand uses).
Where Compose v1 and v2 agree the two must be equal, value by value. Where
they disagree stackctl follows v2 (compose-go, docs.docker.com's "env file
syntax"): for those lines the test asserts both v1's reading, so the case
really is a disagreement, and v2's, which stackctl must give.
"""

from __future__ import annotations

import json
import subprocess

import yaml
from stack_files import STACKCTL, stackctl

# Lines both Compose versions read alike; the value each must give.
AGREED = [
    ("PLAIN=value", "PLAIN", "value"),
    ("export EXPORTED=exported value", "EXPORTED", "exported value"),
    ("   INDENTED =   spaced value   ", "INDENTED", "spaced value"),
    ("INLINE=value # a comment", "INLINE", "value"),
    ("HASH=a#b", "HASH", "a#b"),
    ("HASH_FIRST= #not a comment", "HASH_FIRST", "#not a comment"),
    ('DQ_HASH="quoted # kept" # dropped', "DQ_HASH", "quoted # kept"),
    ("SQ_HASH='single # kept'", "SQ_HASH", "single # kept"),
    (r'DQ_ESCAPES="line1\nline2\ttab \"quoted\" back\\slash"', "DQ_ESCAPES",
     'line1\nline2\ttab "quoted" back\\slash'),
    (r"SQ_QUOTE='it\'s'", "SQ_QUOTE", "it's"),
    (r"SQ_LITERAL='no\nescape'", "SQ_LITERAL", r"no\nescape"),
    (r"UNQUOTED_BACKSLASH=a\nb", "UNQUOTED_BACKSLASH", r"a\nb"),
    ("EMPTY=", "EMPTY", ""),
    ('EMPTY_DQ=""', "EMPTY_DQ", ""),
    ("EMPTY_SQ=''", "EMPTY_SQ", ""),
    ("REF=${PLAIN}/x", "REF", "value/x"),
    ('DQ_REF="pre-${PLAIN}-post"', "DQ_REF", "pre-value-post"),
    ("DEFAULT=${NOT_SET_ANYWHERE:-fallback}", "DEFAULT", "fallback"),
    ("UNSET_REF=${NOT_SET_ANYWHERE}", "UNSET_REF", ""),
    ("FROM_PROCESS=${OUTSIDE}", "FROM_PROCESS", "from-process"),
    ("OVERRIDDEN=file-value", "OVERRIDDEN", "process-value"),
    ('MULTILINE="first\nsecond"', "MULTILINE", "first\nsecond"),
    ("CRLF_PLAIN=crlf\r", "CRLF_PLAIN", "crlf"),
    ('CRLF_DQ="crlf quoted"\r', "CRLF_DQ", "crlf quoted"),
    ("CRLF_COMMENT=v # c\r", "CRLF_COMMENT", "v"),
    ("URL=postgres://u:p@db:5432/x?sslmode=disable&a=b", "URL", "postgres://u:p@db:5432/x?sslmode=disable&a=b"),
    ("DUP=first", "DUP", "second"),
    ("DUP=second", "DUP", "second"),
    ("UNICODE=관측 스택 ✓", "UNICODE", "관측 스택 ✓"),
]

# Lines v1 (python-dotenv) and v2 (compose-go) read differently: (line, key, v1, v2).
DISAGREED = [
    ("TAB_COMMENT=value\t# a tab does not start a comment in v2", "TAB_COMMENT",
     "value", "value\t# a tab does not start a comment in v2"),
    ("SQ_NO_INTERPOLATION='${PLAIN}'", "SQ_NO_INTERPOLATION", "value", "${PLAIN}"),
    ("DOLLARS=a$$b", "DOLLARS", "a$$b", "a$b"),
    ("BARE_REF=$PLAIN", "BARE_REF", "$PLAIN", "value"),
    ("EMPTY_DEFAULT=${EMPTY:-fallback}", "EMPTY_DEFAULT", "", "fallback"),
    ("DASH_DEFAULT=${NOT_SET_ANYWHERE-dash}", "DASH_DEFAULT", "", "dash"),
    ("SHADOW_REF=${OVERRIDDEN}", "SHADOW_REF", "file-value", "process-value"),
    (r'DQ_SQUOTE="a\'b"', "DQ_SQUOTE", "a'b", r"a\'b"),
    (r"SQ_BACKSLASHES='a\\b'", "SQ_BACKSLASHES", "a\\b", "a\\\\b"),
]

PROCESS_ENV = {"OUTSIDE": "from-process", "OVERRIDDEN": "process-value"}


def write_project(directory):
    lines = ["# a tricky .env", ""] + [line for line, *_ in AGREED + DISAGREED] + ["  # the end"]
    (directory / ".env").write_bytes(("\n".join(lines) + "\n").encode())
    keys = sorted({key for _, key, *_ in AGREED + DISAGREED})
    compose = {"services": {"echo": {"image": "busybox", "environment": {k: "${%s}" % k for k in keys}}}}
    (directory / "docker-compose.yml").write_text(yaml.safe_dump(compose))
    (directory / "stackctl.toml").write_text("")
    return keys


def env():
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", **PROCESS_ENV}


def compose_reads(directory):
    r = subprocess.run(["docker-compose", "config"], cwd=directory, env=env(), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    environment = yaml.safe_load(r.stdout)["services"]["echo"]["environment"]
    # `config` prints a literal $ as $$ so its output stays a valid compose file
    return {k: ("" if v is None else str(v)).replace("$$", "$") for k, v in environment.items()}


def stackctl_reads(directory):
    r = subprocess.run([str(STACKCTL), "dotenv", "--project-dir", str(directory)],
                       env=env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_stackctl_reads_env_like_compose(tmp_path):
    keys = write_project(tmp_path)
    compose = compose_reads(tmp_path)
    ours = stackctl_reads(tmp_path)
    assert sorted(compose) == keys
    assert sorted(ours) == keys
    for line, key, want in AGREED:
        assert compose[key] == want, f"docker-compose read {line!r} as {compose[key]!r}"
        assert ours[key] == compose[key], f"{line!r}: stackctl {ours[key]!r}, docker-compose {compose[key]!r}"
    for line, key, v1, v2 in DISAGREED:
        assert compose[key] == v1, f"docker-compose 1.29 read {line!r} as {compose[key]!r}"
        assert ours[key] == v2, f"{line!r}: stackctl {ours[key]!r}, Compose v2 reads {v2!r}"


def test_a_line_compose_v2_refuses_is_an_error_naming_it(tmp_path):
    write_project(tmp_path)
    with open(tmp_path / ".env", "a") as f:
        f.write("GOOD=1\nBROKEN='never closed\n")
    r = stackctl("dotenv", "--project-dir", tmp_path)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    n = (tmp_path / ".env").read_text().count("\n")
    assert f".env, line {n}: the value of BROKEN opens a ' quote that is never closed" in r.stderr, r.stderr
    assert "fix that line" in r.stderr
