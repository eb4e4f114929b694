using System.Text.Json.Nodes;
using InferenceServer.Templates.Lexing;

namespace InferenceServer.Templates.Tests;

/// <summary>Engine pieces checked against expectations produced by Python Jinja2 3.1 (SandboxedEnvironment, trim_blocks, lstrip_blocks).</summary>
public sealed class EngineTests
{
    private static string Render(string source, JsonObject? context = null) =>
        ChatTemplate.Parse(source).Render(context ?? new JsonObject { ["d"] = new JsonObject { ["a"] = 1 } });

    [Theory]
    [InlineData(@"{{ [1,'a',1.0,none,true,(1,),{'k':(1,2)}] }}", @"[1, 'a', 1.0, None, True, (1,), {'k': (1, 2)}]")]
    [InlineData(@"{{ 1e16 }} {{ 1e-5 }} {{ 0.1+0.2 }} {{ 2.50 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }} {{ 4 / 2 }}", @"1e+16 1e-05 0.30000000000000004 2.5 3 -4 2 1024 3.5 2.0")]
    [InlineData(@"{{ 'a\tb\n' ~ ""q'"" }}|{{ 'x' 'y' }}", @"a	b
q'|xy")]
    [InlineData(@"{{ 'hello'[::-1] }} {{ [1,2,3,4][1:3] }} {{ [1,2,3,4][-2:] }} {{ [1,2,3][::2] }}", @"olleh [2, 3] [3, 4] [1, 3]")]
    [InlineData(@"{% for x in [1,2,3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}|{% endfor %}", @"10TrueFalse33|21FalseFalse32|32FalseTrue31|")]
    [InlineData(@"{% for x in [1,2,3,4] if x is even %}{{ x }}:{{ loop.length }} {% else %}none{% endfor %}{% for x in [] %}a{% else %}empty{% endfor %}", @"2:2 4:2 empty")]
    [InlineData(@"{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", @"a=1;b=2;")]
    [InlineData(@"{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x > 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", @"0134")]
    [InlineData(@"{% set ns = namespace(n=0) %}{% for x in [1,2] %}{% set ns.n = ns.n + x %}{% set local = x %}{% endfor %}{{ ns.n }}{{ local is defined }}", @"3False")]
    [InlineData(@"{% set b %} body {{ 1 }} {% endset %}[{{ b }}]{% set c | upper %}x{% endset %}{{ c }}", @"[ body 1 ]X")]
    [InlineData(@"{% macro m(a, b='d') %}{{ a }}-{{ b }}{{ caller() if caller is defined }}{% endmacro %}{{ m(1) }} {{ m(1, b=2) }} {% call m(3) %}C{% endcall %}", @"1-d 1-2 3-dC")]
    [InlineData(@"  {% if true %}
    x
  {% endif %}
{{- '  y  ' -}}
  z{# c #}
", @"    x
  y  z")]
    [InlineData(@"a  {%- if true -%}  b  {%- endif -%}  c {%+ if true %}d{% endif %}", @"abc d")]
    [InlineData(@"{{ x is defined }}{{ none is none }}{{ 'a' is string }}{{ 1 is number }}{{ 1.0 is float }}{{ 1 is integer }}{{ {} is mapping }}{{ [] is iterable }}{{ 3 is odd }}{{ 4 is divisibleby 2 }}{{ 1 is sameas 1 }}{{ 'A' is upper }}{{ x is undefined }}", @"FalseTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrue")]
    [InlineData(@"{{ '  hi  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ [3,1,2]|sort|join(',') }}|{{ ['a','b']|length }}|{{ [1,2]|first }}{{ [1,2]|last }}|{{ none|default('d') }}|{{ ''|default('d', true) }}|{{ undefined_var|default('u') }}", @"hi|hi|1,2,3|2|12|None|d|u")]
    [InlineData(@"{{ [{'a':1},{'a':2},{'b':3}]|selectattr('a','defined')|map(attribute='a')|list }}|{{ [1,2,3,4]|select('odd')|list }}|{{ [1,2,3]|reject('equalto',2)|list }}|{{ ['A','a','b']|unique|list }}|{{ {'b':1,'a':2}|dictsort }}|{{ [1,2,3]|sum }}|{{ [3,1]|min }}{{ [3,1]|max }}", @"[1, 2]|[1, 3]|[1, 3]|['A', 'b']|[('a', 2), ('b', 1)]|6|13")]
    [InlineData(@"{{ 'a,b,,c'.split(',') }}{{ ' a  b '.split() }}{{ 'a,b,c'.split(',', 1) }}{{ 'a,b,c'.rsplit(',', 1) }}{{ 'xabcx'.strip('x') }}{{ 'abc'.startswith(('x','a')) }}{{ 'abc'.endswith('c') }}{{ 'hello world'.title() }}{{ 'aBc'.capitalize() }}{{ 'abcabc'.find('c') }}{{ 'abcabc'.rfind('c') }}{{ 'a-b'.replace('-', '+') }}{{ '{}+{x}'.format(1, x=2) }}", @"['a', 'b', '', 'c']['a', 'b']['a', 'b,c']['a,b', 'c']abcTrueTrueHello WorldAbc25a+b1+2")]
    [InlineData(@"{{ 'line1\nline2'|indent(2) }}|{{ 'line1\n\nline2'|indent(2, true) }}|{{ 'hello world foo'|wordcount }}|{{ 'ab'|center(6) }}|{{ [1,2,3,4,5]|batch(2)|list }}|{{ '3.7'|float }}{{ '42'|int }}{{ 'x'|int }}{{ 3.7|int }}|{{ 2.5|round }}{{ 3.14159|round(2) }}|{{ -3|abs }}", @"line1
  line2|  line1

  line2|3|  ab  |[[1, 2], [3, 4], [5]]|3.74203|2.03.14|3")]
    [InlineData(@"{{ 'a'|safe + '<b>' }}|{{ '<x>'|e }}|{{ 'a' ~ 1 ~ none }}|{{ 1 if false }}|{{ 'y' if 0 else 'n' }}|{{ 1 in [1,2] }}{{ 'b' not in 'abc' }}{{ 1 < 2 < 3 }}", @"a&lt;b&gt;|&lt;x&gt;|a1None||n|TrueFalseTrue")]
    [InlineData(@"{{ d.get('x', 'dflt') }}{{ d.keys()|list }}{{ d.values()|list }}{{ d['a'] }}{{ d.a }}{{ d.missing }}|{% set l = [1,2,3] %}{{ l.pop(0) }}{{ l }}", @"dflt['a'][1]11|1[2, 3]")]
    [InlineData(@"{{ {'a':1}.items() is iterable }}{{ [1,2]|map('string')|join }}{{ ['x','y']|join('-') }}{{ 'abc'|upper|lower|replace('b','B') }}{{ 'ABC'|list }}{{ [1,[2]]|string }}", @"True12x-yaBc['A', 'B', 'C'][1, [2]]")]
    public void Renders_like_jinja2(string source, string expected) => Assert.Equal(expected, Render(source));

    [Fact]
    public void Tojson_is_json_dumps_with_ensure_ascii_false() =>
        Assert.Equal("{\"a\": [1, \"é\", null, 1.5]}|{\n  \"a\": 2,\n  \"b\": 1\n}|[1,2]",
            Render("{{ {'a': [1, 'é', none, 1.5]}|tojson }}|{{ {'b': 1, 'a': 2}|tojson(indent=2, sort_keys=true) }}|{{ [1,2]|tojson(separators=(',', ':')) }}"));

    [Fact]
    public void Json_context_keeps_int_and_float_and_is_copied()
    {
        var context = (JsonObject)JsonNode.Parse("""{"i": 1, "f": 1.0, "l": [1, "a"], "o": {"k": null}}""")!;
        Assert.Equal("1 1.0 [1, 'a'] {'k': None} 1", Render("{{ i }} {{ f }} {{ l }} {{ o }} {% set x = l.pop(0) %}{{ x }}", context));
        Assert.Equal(2, context["l"]!.AsArray().Count);
    }

    [Fact]
    public void Raise_exception_throws_TemplateRaisedException() =>
        Assert.Equal("boom", Assert.Throws<TemplateRaisedException>(() => Render("{{ raise_exception('boom') }}")).Message);

    [Fact]
    public void Lists_and_dicts_change_as_in_the_jinja2_sandbox() =>
        // Expected output from Python Jinja2 3.1's SandboxedEnvironment, which llama.cpp's templates also allow (Kimi-K2 uses append and update).
        Assert.Equal("NoneNone[3, 1, 2]{'a': 1, 'b': 2, 'c': 3}None[1, 2, 3]None[3, 2, 1]None|1092NoneNoneNone[1, 2, 5, 7]('z', 9){'b': 2, 'c': 3}None{}",
            Render("{% set l = [3,1] %}{% set d = {'a': 1} %}{{ l.append(2) }}{{ d.update({'b': 2}, c=3) }}{{ l }}{{ d }}{{ l.sort() }}{{ l }}" +
                "{{ l.sort(reverse=true) }}{{ l }}{{ l.reverse() }}|{{ d.pop('a') }}{{ d.pop('q', 0) }}{{ d.setdefault('z', 9) }}{{ d.setdefault('b') }}" +
                "{{ l.extend([7]) }}{{ l.insert(-1, 5) }}{{ l.remove(3) }}{{ l }}{{ d.popitem() }}{{ d }}{{ d.clear() }}{{ d }}"));

    [Fact]
    public void Private_attributes_stay_blocked()
    {
        var e = Assert.Throws<TemplateRenderException>(() => Render("{{ [].__class__.__name__ }}"));
        Assert.IsNotType<TemplateRaisedException>(e);
        Assert.Contains("unsafe", e.Message);
    }

    [Fact]
    public void Attribute_of_undefined_raises() =>
        Assert.Throws<TemplateRenderException>(() => Render("{{ nothing.attr }}"));

    [Fact]
    public void Syntax_error_reports_the_line()
    {
        var e = Assert.Throws<TemplateSyntaxException>(() => ChatTemplate.Parse("line1\n{% if x %}\n{% endfor %}"));
        Assert.Equal(3, e.Line);
    }

    [Fact]
    public void Strftime_now_uses_the_injected_clock() =>
        Assert.Equal("15 Jan 2026 10:30", ChatTemplate.Parse("{{ strftime_now('%d %b %Y %H:%M') }}")
            .Render(new JsonObject(), new TemplateRenderOptions(new FixedClock(new DateTimeOffset(2026, 1, 15, 10, 30, 0, TimeSpan.Zero)))));

    [Fact]
    public void Generation_tag_renders_its_body() =>
        Assert.Equal("a-b-c", Render("a-{% generation %}b{% endgeneration %}-c"));

    [Fact]
    public void Lexer_applies_whitespace_control_and_drops_one_trailing_newline()
    {
        var tokens = Lexer.Tokenize("x \n  {%- if a -%}\n y {% endif %}\n");
        Assert.Equal([TokenKind.Data, TokenKind.BlockBegin, TokenKind.Name, TokenKind.Name, TokenKind.BlockEnd, TokenKind.Data, TokenKind.BlockBegin, TokenKind.Name, TokenKind.BlockEnd, TokenKind.End],
            tokens.Select(t => t.Kind));
        Assert.Equal("x", tokens[0].Value);
        Assert.Equal("y ", tokens[5].Value);
    }
}
