"""The man pages (docs/man) against what they describe.

* every page is clean under `mandoc -Tlint -W warning`;
* ftp-proxy(8), ftpproxyd(8), ftpproxyctl(8): the options (and, for
  ftpproxyctl, the commands) the built program prints for --help are the
  ones the page documents as list items, in both directions, and the
  usage line's options are in the page's SYNOPSIS;
* ftpproxy.yaml(5): every key docs/configuration.md documents, every key
  of the shipped config/ftpproxy.yaml and every key of the loader's schema
  (src/config) is a list item of the page, and every item is a key
  configuration.md documents.

The Markdown docs stay the reference for what each flag and key means; the
pages are the short form. Binaries: $FTPPROXY_BUILD (tests/ftpx/binaries.py).
"""
import re
import shutil
import subprocess

import pytest

from ftpx.binaries import FTPPROXYCTL, FTPPROXYD, PROXY_BIN, REPO

MAN = REPO / "docs/man"
PAGES = ["ftp-proxy.8", "ftpproxyd.8", "ftpproxyctl.8", "ftpproxy.yaml.5"]
PROGRAMS = {"ftp-proxy.8": PROXY_BIN, "ftpproxyd.8": FTPPROXYD, "ftpproxyctl.8": FTPPROXYCTL}


def page_text(page):
    return (MAN / page).read_text()


# ---------------------------------------------------------------- mandoc

def test_every_page_is_tested():
    on_disk = sorted(p.name for p in MAN.iterdir() if p.suffix in (".5", ".8"))
    assert on_disk == sorted(PAGES), "a page in docs/man that this test does not know (or lost)"


@pytest.mark.parametrize("page", PAGES)
def test_lint(page):
    mandoc = shutil.which("mandoc")
    if mandoc is None:
        pytest.fail("mandoc is not installed (deploy/install-test-deps.sh installs it)")
    result = subprocess.run([mandoc, "-Tlint", "-W", "warning", str(MAN / page)],
                            capture_output=True, text=True, timeout=30)
    assert result.stdout + result.stderr == "", f"mandoc -Tlint -W warning {page}"
    assert result.returncode == 0


# ---------------------------------------------------------------- options

# An option as --help prints it: a dash, not inside a word ("low-high",
# "ftp-proxy"), then a letter or digit.
HELP_OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][\w-]*)")


def help_options(text):
    """The options named in a --help text. "-6Adrv" (getopt's cluster in a
    usage line) is the six single-letter options it groups."""
    found = set()
    for option in HELP_OPTION.findall(text):
        if option.startswith("--") or len(option) == 2:
            found.add(option)
        else:
            found.update("-" + letter for letter in option[1:])
    return found


# mdoc: a callable macro name (Ar, Cm, Fl, Op, Oo, Oc, Ns, Pq, ...) ends the
# arguments of an Fl; a delimiter between them does not (`Fl -help | -version`
# is --help | --version).
MACRO = re.compile(r"^[A-Z][a-z]{1,2}$")
DELIMITERS = {",", "|", ";", ":", ".", "(", ")", "[", "]"}


def fl_options(words):
    """The options the Fl macros among these mdoc words render: `Fl a b`
    is -a -b, `Fl -help` is --help, `Fl Fl x` is --x; a run of letters
    (`Fl 6Adrv` in a SYNOPSIS) is expanded like help_options does."""
    found = set()
    i = 0
    while i < len(words):
        if words[i] != "Fl":
            i += 1
            continue
        dashes = 0
        while i < len(words) and words[i] == "Fl":
            dashes += 1
            i += 1
        while i < len(words) and not MACRO.match(words[i]):
            if words[i] not in DELIMITERS:
                found |= help_options("-" * dashes + words[i])
            i += 1
    return found


def macro_lines(text):
    """Each mdoc macro line as its words, the leading dot dropped."""
    return [line[1:].split() for line in text.splitlines() if re.match(r"\.[A-Z]", line)]


def item_lines(text):
    """The words of each list item's head, after `.It`."""
    return [words[1:] for words in macro_lines(text) if words[0] == "It"]


def item_options(text):
    """Every option a list item of the page documents (`.It Fl ...`, and
    ftpproxyctl's `.It Cm status ... Op Fl -json`): the options list."""
    found = set()
    for words in item_lines(text):
        found |= fl_options(words)
    return found


def section(text, name):
    match = re.search(rf"^\.Sh {name}\n(.*?)(?=^\.Sh )", text, re.M | re.S)
    assert match, f"no .Sh {name}"
    return match.group(1)


def synopsis_options(text):
    found = set()
    for words in macro_lines(section(text, "SYNOPSIS")):
        found |= fl_options(words)
    return found


def usage_block(help_text, program):
    """The usage line and its continuation lines (indented under the first
    argument), without the option descriptions some programs add below."""
    lines = help_text.splitlines()
    assert lines and lines[0].startswith(f"usage: {program} "), lines[:1]
    indent = " " * len(f"usage: {program} ")
    block = [lines[0]]
    for line in lines[1:]:
        if not line.startswith(indent):
            break
        block.append(line)
    return "\n".join(block)


def run_help(binary):
    if not binary.exists():
        pytest.fail(f"{binary} missing: build it (cmake --build build) or set FTPPROXY_BUILD "
                    f"(or FTP_PROXY_BIN / FTPPROXYD_BIN / FTPPROXYCTL_BIN)")
    result = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("page", sorted(PROGRAMS))
def test_options_agree_with_help(page):
    printed = help_options(run_help(PROGRAMS[page]))
    documented = item_options(page_text(page))
    assert printed, "no option found in --help: has its format changed?"
    undocumented = printed - documented
    assert not undocumented, f"printed by --help, not documented as `.It Fl` in {page}"
    unknown = documented - printed
    assert not unknown, f"documented as `.It Fl` in {page}, not printed by --help"


@pytest.mark.parametrize("page", sorted(PROGRAMS))
def test_synopsis_has_the_usage_line(page):
    program = page.rsplit(".", 1)[0]
    usage = help_options(usage_block(run_help(PROGRAMS[page]), program))
    synopsis = synopsis_options(page_text(page))
    assert usage, "no option in the usage line: has its format changed?"
    missing = usage - synopsis
    assert not missing, f"in the usage line, not in the SYNOPSIS of {page}"


def help_commands(text):
    """ftpproxyctl's commands: the first word of each entry between
    "commands:" and "options:" (entries are indented two spaces, their
    continuation lines more)."""
    block = re.search(r"^commands:\n(.*?)^options:", text, re.M | re.S)
    assert block, "no commands: ... options: block in ftpproxyctl --help"
    return set(re.findall(r"^  ([a-z][a-z-]*)", block.group(1), re.M))


def test_ctl_commands_agree_with_help():
    printed = help_commands(run_help(FTPPROXYCTL))
    documented = {words[1] for words in item_lines(page_text("ftpproxyctl.8"))
                  if words[:1] == ["Cm"]}
    assert {"status", "reload", "check"} <= printed, printed
    undocumented = printed - documented
    assert not undocumented, "in ftpproxyctl --help, not an `.It Cm` of ftpproxyctl.8"
    unknown = documented - printed
    assert not unknown, "an `.It Cm` of ftpproxyctl.8, not in ftpproxyctl --help"


# ---------------------------------------------------------------- ftpproxy.yaml keys

def page_keys():
    """Keys as ftpproxy.yaml.5 documents them: every `Ic word` of a list
    item (`.It Ic control_socket : Ar path`, and two keys in one item:
    `.It Ic user : Ar name , Ic password : Ar word`)."""
    keys = set()
    for words in item_lines(page_text("ftpproxy.yaml.5")):
        keys.update(word for prev, word in zip(words, words[1:]) if prev == "Ic")
    return keys


CONFIGURATION_MD = REPO / "docs/configuration.md"
KEY = r"[a-z][a-z0-9_]*"


def configuration_md_keys():
    """The keys docs/configuration.md documents, found the way it writes
    them, so that a new key written its way is picked up:

    * its key tables: a table whose header's first cell is `key` (or
      "`tls` key", "`health_check` key") lists keys in its first column,
      each in backticks, sometimes two to a row ("`user`, `password`") or
      followed by a remark ("`mode` *default*"). Other tables (value
      formats, the nftables rules per `listen`) have another first header
      and are left alone;
    * the sections: the top-level keys of its YAML examples (a key at
      column 0 in a ```yaml block: global, defaults, instances, cluster);
    * nested maps documented under their own heading ("## `global`",
      "## FTPS: `tls`", "### `handoff`: ...").
    """
    text = CONFIGURATION_MD.read_text()
    keys = set()
    in_key_table = False
    for line in text.splitlines():
        if line.startswith("|"):
            first_cell = line.split("|")[1].strip()
            if re.fullmatch(rf"(`{KEY}` )?key", first_cell):
                in_key_table = True
            elif in_key_table and not set(first_cell) <= set("-: "):
                keys.update(re.findall(rf"`({KEY})`", first_cell))
        else:
            in_key_table = False
    for block in re.findall(r"^```yaml\n(.*?)^```", text, re.M | re.S):
        keys.update(re.findall(rf"^({KEY}):", block, re.M))
    for heading in re.findall(r"^#+ .*$", text, re.M):
        keys.update(re.findall(rf"`({KEY})`", heading))
    return keys


def shipped_config_keys():
    """Every key of config/ftpproxy.yaml, set or commented out (the file
    shows each key with its default, the optional ones as comments):
    `key:` at the start of a line, after an optional `#` and list dash.
    Comment prose never has a lower-case word followed by a colon there."""
    text = (REPO / "config/ftpproxy.yaml").read_text()
    return set(re.findall(rf"^\s*(?:#\s*)?(?:-\s+)?({KEY}):(?:\s|$)", text, re.M))


def schema_keys():
    """The loader's own lists of accepted keys (kGlobalKeys, kTlsKeys, ...):
    every `std::array<std::string_view, N> k...Keys = {...}` in src/config,
    with N checked against the names found, so a changed layout fails here
    rather than yielding fewer keys."""
    keys = set()
    arrays = 0
    for path in sorted((REPO / "src/config").glob("*.[ch]pp")):
        for size, body in re.findall(
                r"std::array<std::string_view,\s*(\d+)>\s+k\w*Keys\s*=\s*\{(.*?)\};",
                path.read_text(), re.S):
            names = re.findall(r'"([^"]*)"', body)
            assert len(names) == int(size), f"{path.name}: {names} is not {size} keys"
            keys.update(names)
            arrays += 1
    assert arrays >= 8, "fewer key lists in src/config than expected: has the schema moved?"
    return keys


def test_configuration_md_keys_are_in_the_page():
    documented = configuration_md_keys()
    # The extraction itself: keys from each kind of place it reads.
    assert {"global", "cluster", "control_socket", "backend", "interval", "ciphers",
            "demote_command", "promote_command", "user", "password", "nodes",
            "handoff", "tls", "health_check"} <= documented, documented
    missing = documented - page_keys()
    assert not missing, "documented in docs/configuration.md, not an `.It Ic` of ftpproxy.yaml.5"


def test_page_keys_are_documented():
    text = CONFIGURATION_MD.read_text()
    undocumented = {key for key in page_keys()
                    if not re.search(rf"`{key}[`:]|^\s*-?\s*{key}:", text, re.M)}
    assert not undocumented, "an `.It Ic` of ftpproxy.yaml.5 that docs/configuration.md never names"


def test_shipped_config_keys_are_in_the_page():
    shipped = shipped_config_keys()
    assert {"global", "control_socket", "health_check", "certificate", "name"} <= shipped
    missing = shipped - page_keys()
    assert not missing, "a key of config/ftpproxy.yaml, not in ftpproxy.yaml.5"


def test_schema_keys_are_in_the_page():
    missing = schema_keys() - page_keys()
    assert not missing, "a key the loader accepts, not in ftpproxy.yaml.5"
