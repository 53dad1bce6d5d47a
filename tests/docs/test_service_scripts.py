"""The service definitions (the systemd unit, the OpenBSD and FreeBSD rc.d
scripts) against the programs they run: every option they give ftpproxyd
or ftpproxyctl is one that program's --help prints, every ftpproxyctl
command they use is one of its commands, and the rc.d scripts parse
(`sh -n`; there is no BSD here to run them). docs/packaging.md has the
review of the scripts against rc.subr.
"""
import re
import shlex
import subprocess

import pytest

from ftpx.binaries import FTPPROXYCTL, FTPPROXYD, REPO
from test_man_pages import help_commands, help_options, run_help

UNIT = REPO / "deploy/systemd/ftpproxyd.service.in"
RC_SCRIPTS = [REPO / "deploy/openbsd/ftpproxyd", REPO / "deploy/freebsd/ftpproxyd"]

# How each file names the programs: a path, or the script's variable.
DAEMON = r'(?:\S*/ftpproxyd|"?\$\{(?:daemon|procname)\}"?)'
CTL = r'(?:\S*/ftpproxyctl|"?\$\{ctl\}"?|"?\$\{daemon%/\*\}/ftpproxyctl"?)'


def invocations(path, program):
    """The argument words after each mention of `program` (a regex) that runs
    it, one list per mention; an rc.d script's daemon_flags are ftpproxyd's
    arguments too."""
    found = []
    for line in path.read_text().splitlines():
        code = line.split("#", 1)[0] if not line.lstrip().startswith("Exec") else line
        for match in re.finditer(program + r"[ \t]+([^;|&]*)", code):
            found.append(split_words(match.group(1)))
        flags = re.match(r'\s*daemon_flags="([^"]*)"', code)
        if flags and program is DAEMON:
            found.append(shlex.split(flags.group(1)))
    return found


def split_words(text):
    """Shell words; the rest of a quoted assignment (`command_args="...
    ${procname} -f x"`) ends in the quote that opened before the program."""
    try:
        return shlex.split(text)
    except ValueError:
        return shlex.split(text.rstrip().removesuffix('"'))


def options_in(words):
    return {w.split("=", 1)[0] for w in words if w.startswith("-") and w != "-"}


FILES = [UNIT, *RC_SCRIPTS]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_ftpproxyd_options_are_ones_it_accepts(path):
    calls = invocations(path, DAEMON)
    assert calls, f"{path.name}: no ftpproxyd command line found: has its form changed?"
    accepted = help_options(run_help(FTPPROXYD))
    for words in calls:
        unknown = options_in(words) - accepted
        assert not unknown, f"{path}: ftpproxyd {' '.join(words)}: not in ftpproxyd --help"
    # Each file checks the configuration before it starts ftpproxyd.
    assert any("--check" in words for words in calls), f"{path}: no ftpproxyd --check"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_reload_goes_through_ftpproxyctl(path):
    calls = invocations(path, CTL)
    assert calls, f"{path.name}: reload does not run ftpproxyctl"
    help_text = run_help(FTPPROXYCTL)
    accepted, commands = help_options(help_text), help_commands(help_text)
    for words in calls:
        unknown = options_in(words) - accepted
        assert not unknown, f"{path}: ftpproxyctl {' '.join(words)}: not in ftpproxyctl --help"
        assert words[-1] in commands, f"{path}: ftpproxyctl {' '.join(words)}: no such command"
    assert any(words[-1] == "reload" for words in calls)


@pytest.mark.parametrize("path", RC_SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_rc_script_parses(path):
    result = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
