"""The Go text/template subset renderer used for email subjects and bodies."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytrue.adapters.mail.gotemplate import TemplateError, parse
from pytrue.adapters.mail.templates import DEFAULT_BODIES, DEFAULT_SUBJECTS

DATA: dict[str, Any] = {
    "SiteURL": "http://localhost:3000",
    "ConfirmationURL": "http://localhost:9999/verify?token=abc&type=signup&redirect_to=http://localhost:3000",
    "Email": "ada@example.com",
    "Token": "123456",
    "TokenHash": "abc",
    "Data": {"name": "Ada", "lang": "fr", "age": 36, "score": 2.5, "tags": ["x", "y"], "nested": {"k": "v"}},
}


def render(source: str, data: dict[str, Any] | None = None, *, html: bool = False) -> str:
    return parse(source).render(DATA if data is None else data, html=html)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hi {{ .Email }}", "Hi ada@example.com"),
        ("{{.Data.name}}", "Ada"),
        ("{{ .Data.nested.k }}", "v"),
        ("{{ .Data.age }} {{ .Data.score }} {{ .Data.tags }}", "36 2.5 [x y]"),
        ("{{ .Data.nested }}", "map[k:v]"),
        ("[{{ .Missing }}][{{ .Data.missing.deeper }}][{{ .Email.field }}]", "[][][]"),
        ('{{ if eq .Data.lang "fr" }}Bonjour{{ else if eq .Data.lang "de" }}Hallo{{ else }}Hello{{ end }}', "Bonjour"),
        ('{{ if eq .Data.lang "de" }}Hallo{{ else if eq .Data.lang "fr" }}Bonjour{{ end }}', "Bonjour"),
        ('{{ if eq .Data.lang "de" "fr" }}one of{{ end }}', "one of"),
        ("{{ if .Missing }}yes{{ else }}no{{ end }}", "no"),
        ('{{ if ne .Data.lang "fr" }}x{{ else }}y{{ end }}', "y"),
        ("{{ if and .Data.name .Data.lang }}both{{ end }}", "both"),
        ('{{ or .Data.nickname .Data.name "someone" }}', "Ada"),
        ('{{ and .Data.name "" }}|{{ and "" .Nope.x }}', "|"),
        ("{{ if not .Data.nickname }}no nickname{{ end }}", "no nickname"),
        ("{{ len .Data.tags }} {{ len .Email }} {{ len .Data.nested }}", "2 15 1"),
        ('{{ index .Data "name" }} {{ index .Data.tags 1 }} {{ index .Data.tags 5 }}.', "Ada y ."),
        ("{{ if gt .Data.age 18 }}adult{{ end }}{{ if lt .Data.score 3.0 }} low{{ end }}", "adult low"),
        ("{{ if ge .Data.age 36 }}a{{ end }}{{ if le .Data.age 35 }}b{{ end }}", "a"),
        ('{{ if eq .Data.age "36" }}same{{ else }}different{{ end }}', "different"),
        ('{{ .Data.name | printf "<%s>" }}', "<Ada>"),
        ('{{ printf "%s is %d" .Data.name .Data.age }}', "Ada is 36"),
        ("{{ .Email | urlquery }}", "ada%40example.com"),
        ('{{ print "a" 1 true }}', "a1true"),
        ("{{ with .Data.nested }}{{ .k }}{{ end }}{{ with .Data.none }}x{{ else }}none{{ end }}", "vnone"),
        ("{{ with .Data }}{{ .name }} at {{ $.SiteURL }}{{ end }}", "Ada at http://localhost:3000"),
        ("a  {{- .Token -}}  b", "a123456b"),
        ("a\n  {{- /* a comment */ -}}\n  b{{/* another */}}", "ab"),
        ("{{ `raw {{ }}` }} {{ \"q\\\"\\n\" }}", 'raw {{ }} q"\n'),
        ("{{ 42 }} {{ -3 }} {{ 1.5 }} {{ 0x1F }} {{ true }}", "42 -3 1.5 31 true"),
        ("{{ (index .Data \"name\") }}{{ if (eq (len .Data.tags) 2) }}!{{ end }}", "Ada!"),
        ("line {{ .Email }\n}", None),
    ],
)
def test_render_text(source: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(TemplateError):
            parse(source)
    else:
        assert render(source) == expected


def test_html_mode_escapes_values_but_not_template_text() -> None:
    data = {**DATA, "Data": {"name": "<script>alert('x')</script> & \"co\""}}
    out = render('<p class="a">Hi {{ .Data.name }}</p><a href="{{ .ConfirmationURL }}">go</a>', data, html=True)
    assert out == (
        '<p class="a">Hi &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;co&#34;</p>'
        '<a href="http://localhost:9999/verify?token=abc&amp;type=signup&amp;redirect_to=http://localhost:3000">go</a>'
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("javascript:alert(1)", "#ZgotmplZ"),
        (" JavaScript:alert(1)", "#ZgotmplZ"),
        ("data:text/html,x", "#ZgotmplZ"),
        ("https://example.com/a?b=1&c=2", "https://example.com/a?b=1&amp;c=2"),
        ("mailto:ada@example.com", "mailto:ada@example.com"),
        ("/relative/path", "/relative/path"),
    ],
)
def test_unsafe_url_schemes_are_neutralised_in_url_attributes(value: str, expected: str) -> None:
    out = render('<a href="{{ .Data.url }}">x</a><img src={{ .Data.url }}>', {"Data": {"url": value}}, html=True)
    assert out == f'<a href="{expected}">x</a><img src={expected.replace("=", "&#61;")}>'
    # elsewhere the value is only escaped
    assert render("<p>{{ .Data.url }}</p>", {"Data": {"url": value}}, html=True) == "<p>" + value.replace(
        "&", "&amp;"
    ) + "</p>"


def test_text_mode_does_not_escape() -> None:
    assert render("{{ .Data.name }}", {"Data": {"name": "<b>&"}}) == "<b>&"


@pytest.mark.parametrize(
    "source",
    [
        "{{ .Email",
        "{{ if .Email }}no end",
        "{{ end }}",
        "{{ else }}",
        "{{ if .A }}{{ else }}{{ else }}{{ end }}",
        "{{ }}",
        "{{ nosuchfunc .Email }}",
        "{{ range .Data.tags }}{{ . }}{{ end }}",
        '{{ define "x" }}{{ end }}',
        '{{ template "x" }}',
        "{{ $x := .Email }}",
        "{{ .Email .Token }}",
        "{{ .Email | .Token }}",
        "{{ eq .Email }}",
        "{{ not }}",
        '{{ "unterminated }}',
        "{{ `unterminated }}",
        '{{ "bad \\q escape" }}',
        "{{/* unclosed comment }}",
        "{{ (eq .A .B }}",
        "{{ eq .A .B) }}",
        "{{ .Email.Method arg }}",
        "{{ @ }}",
        "{{ if }}{{ end }}",
        "{{ end extra }}",
        "{{ nil }}",
    ],
)
def test_malformed_or_unsupported_templates_fail_at_parse(source: str) -> None:
    with pytest.raises(TemplateError):
        parse(source)


def test_deep_nesting_is_refused_not_crashing() -> None:
    with pytest.raises(TemplateError):
        parse("{{ if .A }}" * 200 + "{{ end }}" * 200)
    with pytest.raises(TemplateError):
        parse("{{ " + "(" * 500 + ".A" + ")" * 500 + " }}")


def test_non_json_objects_in_data_are_never_touched() -> None:
    class Sneaky:
        def __str__(self) -> str:  # pragma: no cover - must not be called
            raise AssertionError("called __str__")

        def __getattr__(self, name: str) -> Any:  # pragma: no cover - must not be called
            raise AssertionError(f"attribute {name} read")

    data = {"Obj": Sneaky(), "Data": {"obj": Sneaky()}}
    assert render("[{{ .Obj }}][{{ .Obj.Field }}][{{ .Data.obj.__class__ }}][{{ len .Obj }}]", data) == "[][][][]"


# --- properties -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
template_data = st.fixed_dictionaries(
    {
        "SiteURL": st.text(max_size=30),
        "ConfirmationURL": st.text(max_size=60),
        "Email": st.text(max_size=30),
        "NewEmail": st.text(max_size=30),
        "Token": st.text(max_size=10),
        "TokenHash": st.text(max_size=10),
        "RedirectTo": st.text(max_size=30),
        "Data": st.dictionaries(st.sampled_from(["name", "lang", "url", "tags", "age", "x"]), json_values, max_size=6),
    }
)
CUSTOM = [
    '{{ if eq .Data.lang "fr" }}Bonjour {{ .Data.name }}{{ else }}Hello {{ .Data.name }}{{ end }}',
    '<a href="{{ .Data.url }}">{{ index .Data "tags" }}</a> {{ len .Data.tags }} {{ index .Data.tags 0 }}',
    "{{ if and (gt .Data.age 18) (lt .Data.age 99) }}{{ .Data.age | printf \"%d %s %v\" }}{{ end }}",
    "{{ with .Data.x }}{{ .k }} {{ $.Email | urlquery }}{{ else }}{{ or .Data.name .Email }}{{ end }}",
    "{{ if ne .Data.name .Email }}{{ eq .Data.x 1 2.5 \"s\" true }}{{ end }}{{ not .Data.tags }}",
]
FIXED_SET = [parse(text) for text in [*DEFAULT_BODIES.values(), *DEFAULT_SUBJECTS.values(), *CUSTOM]]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=template_data)
def test_rendering_never_raises_and_never_lets_script_through(data: dict[str, Any]) -> None:
    data = dict(data)
    data["Data"] = {**data["Data"], "name": "<script>alert(1)</script>"}
    for template in FIXED_SET:
        text = template.render(data)
        html = template.render(data, html=True)
        assert isinstance(text, str)
        assert "<script" not in html.lower()
        assert "javascript:" not in html.lower() or "javascript:" in template.source.lower()


PIECES = [*"{}.()|-/*`\"'$ \nabcdeqilnotx0123456789_", "{{", "}}", "{{- ", " -}}", "if ", "end", "else ", ".Data"]
template_text = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


@settings(max_examples=500, deadline=2000)
@given(source=template_text)
def test_parse_terminates_with_a_template_or_a_template_error(source: str) -> None:
    try:
        template = parse(source)
    except TemplateError:
        return
    template.render(DATA)
    template.render(DATA, html=True)


@settings(max_examples=300, deadline=2000)
@given(source=st.text(max_size=120))
def test_parse_handles_arbitrary_text(source: str) -> None:
    try:
        parse(source).render(DATA, html=True)
    except TemplateError:
        pass


def test_unquoted_attribute_values_cannot_be_split() -> None:
    out = render("<a title={{ .Data.t }}>x</a>", {"Data": {"t": "a onmouseover=alert(1)"}}, html=True)
    assert out == "<a title=a&#32;onmouseover&#61;alert(1)>x</a>"


def test_url_start_is_recognised_through_conditionals() -> None:
    source = '<a href="{{ if .Data.u }}{{ .Data.u }}{{ else }}{{ .SiteURL }}{{ end }}">x</a>'
    assert render(source, {"Data": {"u": "javascript:alert(1)"}}, html=True) == '<a href="#ZgotmplZ">x</a>'
    assert render(source, {"Data": {}, "SiteURL": "vbscript:x"}, html=True) == '<a href="#ZgotmplZ">x</a>'
    assert render(source, {"Data": {"u": "https://ok"}}, html=True) == '<a href="https://ok">x</a>'
    after = '<a href="{{ if .Data.p }}/{{ end }}{{ .Data.u }}">'
    assert render(after, {"Data": {"u": "javascript:x"}}, html=True) == '<a href="#ZgotmplZ">'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[str], dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, [name for name, _ in attrs], dict(attrs)))


ATTRIBUTE_TEMPLATES = [
    parse('<a title="{{ .Data.name }}" href="{{ .Data.url }}">{{ .Data.name }}</a>'),
    parse("<a title='{{ .Data.name }}' href='{{ .Data.url }}'>{{ .Data.name }}</a>"),
    parse("<a title={{ .Data.name }} href={{ .Data.url }}>{{ .Data.name }}</a>"),
]


@settings(max_examples=300)
@given(name=st.text(max_size=30), url=st.text(max_size=30))
def test_data_never_adds_tags_or_attributes(name: str, url: str) -> None:
    for template in ATTRIBUTE_TEMPLATES:
        parser = _Tags()
        parser.feed(template.render({"Data": {"name": name, "url": url}}, html=True))
        parser.close()
        assert len(parser.tags) == 1
        tag, names, values = parser.tags[0]
        assert (tag, names) == ("a", ["title", "href"])
        href = (values["href"] or "").strip().lower()
        assert not href.startswith(("javascript:", "vbscript:", "data:"))
