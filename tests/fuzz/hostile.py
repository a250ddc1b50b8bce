"""The hostile inputs themselves: strings, YAML documents, templates, options, and the ways
a template may read, transform and trip over a secret. `strategies` draws from these
lists and combines them; the tests name a few that every run must try.
"""

from __future__ import annotations

from collections.abc import Callable

# ---- strings worth injecting into any value -----------------------------------------------

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m"
BIDI = "\u202eevil\u202c"

INJECTED: tuple[str, ...] = (
    "",
    " ",
    "~",
    "null",
    "yes",
    "on",
    "1e999",
    ".nan",
    "-0",
    "0x10",
    "2025-03-01",
    "12:30:45",
    "{{",
    "}}",
    "{%",
    "{#",
    "{% raw %}",
    "{{ }}",
    "{{ vars }}",
    "{{ matrix }}",
    "{{ run }}",
    "{{ env }}",
    "{{ env.SECRET }}",
    "{{ env.SECRET|upper }}",
    "{{ env.SECRET|reverse }}",
    "x{{ vars.s }}y",
    "{{ vars.nope }}",
    "{{ ''.__class__ }}",
    "{{ lipsum(3) }}",
    ESCAPES,
    BIDI,
    "\u2028\u2029\x85",
    "\ufeff",
    "\x00",
    "a" * 70_000,
    "é" * 1000,
    "𝕏" * 100,
    "../../etc/passwd",
    "--help",
    "-o",
    "*alias",
    "&anchor",
    "!!python/object:os.system",
    "<<",
)


# ---- YAML documents -----------------------------------------------------------------------

HEAD = (
    "version: 1\nname: hostile\nrooms:\n  lab: {source: static, url: 'https://a.daily.co/x'}\n"
    "scenarios:\n  - id: 30\n    publish_data_message: {v: '{{ vars.x | default(1) }}'}\n"
)


def _in_vars(fragment: str) -> str:
    """A valid suite whose vars.x is `fragment` (flow YAML on one line)."""
    return f"{HEAD}vars:\n  x: {fragment}\n"


def _deep_block(n: int) -> str:
    body = "".join(f"{'  ' * (i + 1)}a:\n" for i in range(n))
    return f"{HEAD}vars:\n{body}{'  ' * (n + 1)}b: 1\n"


def _alias_bomb(levels: int, fanout: int) -> str:
    lines = [f"  a0: &a0 [{', '.join(['lol'] * fanout)}]"]
    for i in range(1, levels):
        lines.append(f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fanout)}]")
    return f"{HEAD}vars:\n" + "\n".join(lines) + "\n"


def _merge_bomb(levels: int) -> str:
    lines = ["  m0: &m0 {k0: 0}"]
    for i in range(1, levels):
        lines.append(f"  m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: {i}}}")
    return f"{HEAD}vars:\n" + "\n".join(lines) + "\n"


def _many_keys(n: int) -> str:
    return f"{HEAD}vars:\n" + "".join(f"  k{i}: {i}\n" for i in range(n))


SIZES = (65, 1000, 20_000, 100_000)

# name -> a function of a size, giving the suite's text (str) or bytes
HOSTILE_YAML: dict[str, Callable[[int], str | bytes]] = {
    "deep flow list": lambda n: _in_vars("[" * n + "]" * n),
    "deep flow map": lambda n: _in_vars("{a: " * n + "1" + "}" * n),
    "deep block map": lambda n: _deep_block(min(n, 3000)),
    "deep list of anchors": lambda n: _in_vars("&a [" * min(n, 5000) + "1" + "]" * min(n, 5000)),
    "alias bomb": lambda n: _alias_bomb(min(max(n // 100, 3), 12), 9),
    "wide alias bomb": lambda n: _alias_bomb(4, min(n, 2000)),
    "merge-key bomb": lambda n: _merge_bomb(min(max(n // 100, 3), 40)),
    "recursive alias in a list": lambda n: _in_vars("&a [1, *a]"),
    "recursive alias in a mapping": lambda n: f"{HEAD}vars: &a {{x: *a}}\n",
    "recursive merge key": lambda n: f"{HEAD}vars: &a {{<<: *a, x: 1}}\n",
    "deep recursive alias": lambda n: _in_vars("&a " + "[" * min(n, 60) + "*a" + "]" * min(n, 60)),
    "undefined alias": lambda n: _in_vars("*nope"),
    "anchor defined twice": lambda n: _in_vars("[&a 1, &a 2, *a]"),
    "alias as a key": lambda n: f"{HEAD}vars: {{&k name: 1, *k : 2}}\n",
    "huge decimal integer": lambda n: _in_vars("9" * n),
    "huge negative integer": lambda n: _in_vars("-" + "9" * n),
    "huge hex integer": lambda n: _in_vars("0x" + "f" * n),
    "huge octal integer": lambda n: _in_vars("0o" + "7" * n),
    "huge binary integer": lambda n: _in_vars("0b" + "1" * n),
    "integer with underscores": lambda n: _in_vars("1" + "_0" * n),
    "sexagesimal integer": lambda n: _in_vars("1" + ":59" * min(n, 20_000)),
    "sexagesimal float": lambda n: _in_vars("1" + ":59" * min(n, 20_000) + ".5"),
    "huge float": lambda n: _in_vars("1e" + "9" * min(n, 5000)),
    "long float": lambda n: _in_vars("0." + "1" * n),
    "nan and infinities": lambda n: _in_vars("[.nan, .inf, -.inf, .NaN]"),
    "2**63 + 1": lambda n: _in_vars(str(2**63 + 1)),
    "huge integer id": lambda n: HEAD.replace("id: 30", "id: " + "9" * n),
    "huge repeat": lambda n: HEAD.replace("id: 30", "id: 30\n    repeat: " + "9" * n),
    "!!float abc": lambda n: _in_vars("!!float abc"),
    "!!int x": lambda n: _in_vars("!!int x"),
    "!!bool maybe": lambda n: _in_vars("!!bool maybe"),
    "!!null x": lambda n: _in_vars("!!null x"),
    "!!timestamp junk": lambda n: _in_vars("!!timestamp 2020-99-99T99:99"),
    "!!binary junk": lambda n: _in_vars("!!binary '!!!'"),
    "!!set": lambda n: _in_vars("!!set {a, b}"),
    "!!omap": lambda n: _in_vars("!!omap [{a: 1}, {a: 2}]"),
    "!!pairs": lambda n: _in_vars("!!pairs [{a: 1}]"),
    "!!python/object": lambda n: _in_vars("!!python/object:os.system {}"),
    "!!python/object/apply": lambda n: _in_vars("!!python/object/apply:os.system ['echo pwned']"),
    "!!python/name": lambda n: _in_vars("!!python/name:os.system"),
    "!!python/tuple": lambda n: _in_vars("!!python/tuple [1, 2]"),
    "local tag": lambda n: _in_vars("!custom x"),
    "verbatim tag": lambda n: _in_vars("!<tag:yaml.org,2002:int> 12x"),
    "!!str on a mapping": lambda n: _in_vars("!!str {a: 1}"),
    "!!map on a scalar": lambda n: _in_vars("!!map x"),
    "%TAG directive": lambda n: "%TAG !e! tag:evil.example,2000:\n---\n" + _in_vars("!e!x 1"),
    "%YAML 1.1": lambda n: "%YAML 1.1\n---\n" + HEAD,
    "%YAML 2.0": lambda n: "%YAML 2.0\n---\n" + HEAD,
    "unknown directive": lambda n: "%FOO bar\n---\n" + HEAD,
    "two documents": lambda n: HEAD + "---\n" + HEAD,
    "an empty file": lambda n: "",
    "only a comment": lambda n: "# nothing\n",
    "a document marker only": lambda n: "---\n...\n",
    "null document": lambda n: "~\n",
    "a list document": lambda n: "- version: 1\n",
    "a scalar document": lambda n: "hello\n",
    "a huge scalar document": lambda n: "x" * (n * 100),
    "non-UTF-8 bytes": lambda n: HEAD.encode() + b"description: \xff\xfe\x80\n",
    "latin-1 text": lambda n: (HEAD + "description: café\n").encode("latin-1"),
    "UTF-16 with a BOM": lambda n: (HEAD + "description: x\n").encode("utf-16"),
    "UTF-32": lambda n: (HEAD + "description: x\n").encode("utf-32"),
    "overlong UTF-8": lambda n: HEAD.encode() + b"description: \xc0\xaf\n",
    "a surrogate in UTF-8": lambda n: HEAD.encode() + b"description: \xed\xa0\x80\n",
    "a BOM in front": lambda n: "\ufeff" + HEAD,
    "two BOMs in front": lambda n: "\ufeff\ufeff" + HEAD,
    "a BOM inside": lambda n: HEAD + "description: a\ufeffb\n",
    "a BOM before ---": lambda n: "---\n\ufeff" + HEAD,
    "tab indentation": lambda n: HEAD.replace("  lab", "\tlab"),
    "tabs in flow": lambda n: _in_vars("{\ta:\t1,\tb:\t[1,\t2]}"),
    "a tab after a key": lambda n: HEAD + "description:\tx\n",
    "duplicate top-level key": lambda n: HEAD + "name: again\n",
    "duplicate key in flow": lambda n: _in_vars("{a: 1, a: 2}"),
    "duplicate quoted key": lambda n: HEAD + '"name": again\n',
    "duplicate key by merge and by hand": lambda n: _in_vars("{<<: {a: 1}, a: 2, a: 3}"),
    "two merge keys": lambda n: _in_vars("{<<: {a: 1}, <<: {b: 2}}"),
    "merge of a list of scalars": lambda n: _in_vars("{<<: [1, 2]}"),
    "merge of a scalar": lambda n: _in_vars("{<<: 1}"),
    "complex key": lambda n: _in_vars("{? [a, b] : 1}"),
    "mapping as key": lambda n: _in_vars("{? {a: 1} : 1}"),
    "null key": lambda n: _in_vars("{~: 1, null: 2}"),
    "boolean keys": lambda n: _in_vars("{yes: 1, no: 2, on: 3}"),
    "integer keys": lambda n: _in_vars("{1: a, 1.5: b, 0x1: c}"),
    "a NUL byte": lambda n: HEAD + "description: a\x00b\n",
    "an escape in a plain scalar": lambda n: HEAD + "description: a\x1b[2Jb\n",
    "escapes in a quoted scalar": lambda n: HEAD + 'description: "\\e]0;x\\a\\e[2J"\n',
    "NEL and line separators": lambda n: HEAD + "description: a\x85b\u2028c\u2029d\n",
    "a bidi override in a key": lambda n: HEAD + "\u202eeman: x\n",
    "a long line": lambda n: HEAD + "description: " + "x" * (n * 50) + "\n",
    "a long key": lambda n: _in_vars("{" + "k" * (n * 10) + ": 1}"),
    "many keys": lambda n: _many_keys(min(n, 20_000)),
    "many scenarios": lambda n: HEAD + "".join(f"  - id: {i}\n" for i in range(1, min(n, 5000))),
    "an unclosed quote": lambda n: HEAD + 'description: "abc\n',
    "an unclosed flow": lambda n: _in_vars("[1, {a: [2"),
    "a stray indent": lambda n: HEAD + "     stray: 1\n",
    "CRLF line ends": lambda n: HEAD.replace("\n", "\r\n"),
    "CR line ends": lambda n: HEAD.replace("\n", "\r"),
}


# ---- templates ---------------------------------------------------------------------------

NESTED_RANGES = "{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}"
EXPONENTIAL_MACRO = (
    "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}x{% endmacro %}{{ f(40) }}"
)

HOSTILE_TEMPLATES: tuple[str, ...] = (
    "{{ [['x'*999999]*999]*999 }}",
    "{{ ['x'*999999]*999 }}",
    "{{ 'x'*999999999 }}",
    "{{ [1]*999999999 }}",
    "{{ (1,)*999999999 }}",
    "{{ range(999999999)|list }}",
    "{{ range(999999999)|join }}",
    "{{ range(10**18)|length }}",
    NESTED_RANGES,
    "{% for a in range(9999) %}{% for b in range(9999) %}{% endfor %}{% endfor %}",
    "{% for a in range(300) %}{% for b in range(300) %}{% for c in range(300) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    EXPONENTIAL_MACRO,
    "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    "{% macro r() %}{{ r() }}{% endmacro %}{{ r() }}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{{ 'x'|replace('x', 'x'*1000)|replace('x', 'x'*1000)|replace('x', 'x'*1000) }}",
    "{{ '%999999999s'|format(1) }}",
    "{{ '%.999999999f'|format(1.0) }}",
    "{{ '%*s'|format(999999999, 1) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '{:0999999999d}'.format(1) }}",
    "{{ '{0:{1}}'.format(1, 999999999) }}",
    "{{ 'x'|center(999999999) }}",
    "{{ 'x'|indent(999999999, true) }}",
    "{{ ('x\n'*1000)|indent(999999) }}",
    "{{ 'x'|truncate(999999999) }}",
    "{{ ('x '*10000)|wordwrap(1) }}",
    "{{ lipsum(999999) }}",
    "{{ lipsum(10, false, 999999999, 999999999) }}",
    "{{ lipsum(999999)|length }}",
    "{{ 9**9**9 }}",
    "{{ 10**100000 }}",
    "{{ (10**5000)|string }}",
    "{{ 2**63 }}",
    "{{ 99999999999999999999999999 * 99999999999999999999999999 }}",
    "{{ 1e308 * 10 }}",
    "{{ 'nan'|float }}",
    "{{ 'inf'|float }}",
    "{{ 1/0 }}",
    "{{ 1//0 }}",
    "{{ 1 % 0 }}",
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ range.__self__ }}",
    "{{ self }}",
    "{{ self.__init__.__globals__ }}",
    "{{ config }}",
    "{{ request }}",
    "{{ env.__class__ }}",
    "{{ env.SECRET.__class__.__mro__ }}",
    "{{ vars.__class__.__init__ }}",
    "{{ '{0.__class__.__mro__}'.format('') }}",
    "{{ '{0.__init__.__globals__}'.format(cycler) }}",
    "{{ '%s'|format(cycler.__init__) }}",
    "{{ vars|attr('__class__') }}",
    "{{ vars|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ vars.update({'a': 1}) }}",
    "{{ [].append(1) }}",
    "{% set x = vars.pop('s') %}{{ x }}",
    "{% include 'x' %}",
    "{% import 'os' as os %}",
    "{% extends 'base' %}",
    "{% from 'x' import y %}",
    "{{ x | nosuchfilter }}",
    "{{ x is nosuchtest }}",
    "{% nosuchtag %}",
    "{{",
    "{{ 1 +",
    "{% for %}",
    "{% if %}{% endif %}",
    "{% raw %}",
    "{# unclosed",
    "{{ '}}' }}",
    "{{ {}|dictsort }}",
    "{{ range(10)|map('upper')|list }}",
    "{{ range(5)|batch(999999999)|list }}",
    "{{ range(5)|slice(999999999)|list }}",
    "{{ 'x'|list|sort(attribute='__class__') }}",
    "{{ [1, 2]|sum(attribute='__class__') }}",
    "{{ [vars]|map(attribute='__class__')|list }}",
    "{{ [1]|groupby('__class__') }}",
    "{{ dict(a=1)|items|list }}",
    "{{ 'a'|tojson(indent=999999999) }}",
    "{{ [[[1]]]|tojson(indent=99999999) }}",
    "{{ 'x'|urlize(999999999) }}",
    "{{ 'x'|filesizeformat }}",
    "{{ 99**99|filesizeformat }}",
    "{{ 'x'|int(base=99) }}",
    "{{ ' '*999999 ~ 'x'|trim }}",
    "{{ 'x'|pprint }}",
    "{{ ['x']*999999|join(',') }}",
    "{{ 'a'|xmlattr }}",
    "{{ {'a': 'b'*999999}|xmlattr }}",
)


# ---- command-line options ----------------------------------------------------------------

DIGITS = "9" * 5000

HOSTILE_OPTIONS: tuple[tuple[str, ...], ...] = (
    ("--shard", f"1/{DIGITS}"),
    ("--shard", f"{DIGITS}/{DIGITS}"),
    ("--shard", "0/0"),
    ("--shard", "1/0"),
    ("--shard", "-1/2"),
    ("--shard", "2/1"),
    ("--shard", "1/999999999"),
    ("--shard", "999999999/999999999"),
    ("--shard", "1/2/3"),
    ("--shard", " 1 / 2 "),
    ("--shard", "١/٢"),
    ("--shard", "1/𝟐"),
    ("--shard", "1/0x2"),
    ("--shard", "1_0/2_0"),
    ("--shard", ""),
    ("--set", "x=" + "[" * 100_000 + "]" * 100_000),
    ("--set", "x=" + '{"a":' * 64 + "1" + "}" * 64),
    ("--set", "x=" + '{"a":' * 65 + "1" + "}" * 65),
    ("--set", "x=" + "[" * 100_000),
    ("--set", "x=" + '"' + "[" * 100_000 + '"'),
    ("--set", "x=" + "a" * 1_000_001),
    ("--set", "x=" + "a" * 1_000_000),
    ("--set", "x=" + DIGITS),
    ("--set", "x=1e999"),
    ("--set", "x=-1e999"),
    ("--set", "x=NaN"),
    ("--set", "x=Infinity"),
    ("--set", "x=[NaN]"),
    ("--set", "x=" + "[" + "1," * 400_000 + "1]"),
    ("--set", "greeting={{ env.SECRET }}"),
    ("--set", "s.x=1"),
    ("--set", "s=1"),
    ("--set", "caller.name.first=1"),
    ("--set", ".".join(["a"] * 50_000) + "=1"),
    ("--set", "a..b=1"),
    ("--set", "=1"),
    ("--set", "x"),
    ("--set", "__class__=1"),
    ("--set", "x\x1b[2J=1"),
    ("--set", "x=\x1b]0;pwned\x07"),
    ("--set", "\u202ex=1"),
    ("--env", "nope"),
    ("--env", ""),
    ("--env", "\x1b[2Jstaging"),
    ("--env", "\u202estaging"),
    ("--env", "x" * 100_000),
    ("--env", "staging\x00"),
    ("--env", "__proto__"),
    ("--tag", "nope"),
    ("--tag", "x" * 100_000),
    ("--tag", "\x1b[2J"),
    ("--scenario", "nope"),
    ("--scenario", "9" * 5000),
    ("--scenario", "-1"),
    ("--scenario", "\u202eorder"),
    ("--max-runs", DIGITS),
    ("--max-runs", "0"),
    ("--max-runs", "1"),
    ("--max-runs", "-1"),
    ("--max-runs", "1e9"),
    ("--format", "xml"),
)


# ---- reading the canary secret -----------------------------------------------------------

SECRET_READS: tuple[str, ...] = (
    "env.SECRET",
    "env['SECRET']",
    "env.get('SECRET')",
    "env.get('SECRET', 'fallback')",
    "vars.s",
)

TRANSFORMS: tuple[str, ...] = (
    "@",
    "@|upper",
    "@|lower",
    "@|reverse",
    "@|urlencode",
    "@|urlencode|upper",
    "'<' ~ @ ~ '>'",
    "@ ~ @",
    "{@: 1}",
    "{'k': @|reverse}",
    "[@|upper]",
    "@|tojson",
    "@|list",
    "@|string|upper",
    "(@|upper)[::-1]",
    "@.upper()",
    "@.lower()",
    "@.swapcase()",
    "@|e",
    "@|pprint",
    "@|center(40)",
    "@|replace('-', '-')",
    "@|trim",
    "@|title|upper",
    "'%s'|format(@)",
    "'{}'.format(@|upper)",
    "@|batch(3)|list",
    "@|join|upper",
    "@|dictsort",
    "@|urlize",
    "@|wordwrap(5)",
    "@|indent(2)",
    "@|truncate(99)",
    "@|length",
    "@|first",
    "@[0:99]",
)

FAILURES: tuple[str, ...] = (
    "@",
    "@['zz']",
    "{@: 1}['zz']",
    "{@|upper: 1}['zz']",
    "{@|reverse: 1}['zz']",
    "vars[@]",
    "env[@]",
    "matrix[@]",
    "@ + 1",
    "1 + @",
    "@|int",
    "@|float + 'x'",
    "@()",
    "@.nope",
    "@.nope()",
    "range(@)",
    "@ is divisibleby 3",
    "@[99]",
    "@|nosuchfilter",
    "@|attr('__class__')",
    "@|map(attribute=@)|list",
    "{}[@]",
    "[1][@]",
    "@|join(1)",
    "@.__class__",
    "lipsum(@)",
    "@|format(1, 2, 3)",
    "'%d'|format(@)",
    "@|selectattr(@)|list",
    "@|groupby(@)",
    "@|sum",
)
