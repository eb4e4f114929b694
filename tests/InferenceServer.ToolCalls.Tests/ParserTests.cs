using System.Text.Json.Nodes;

namespace InferenceServer.ToolCalls.Tests;

/// <summary>Realistic outputs per family (as the models write them), parsed whole and streamed in many chunk sizes.</summary>
public class ParserTests
{
    private const string Weather = """{"location": "Paris, France", "unit": "celsius"}""";

    public sealed record Sample(string Name, ToolCallFormat Format, string Output, string Content, (string Name, string Arguments)[] Calls)
    {
        public override string ToString() => Name;
    }

    public static readonly Sample[] Samples =
    [
        new("hermes one call", ToolCallFormat.Hermes,
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": " + Weather + "}\n</tool_call>", "", [("get_weather", Weather)]),
        new("qwen text then two calls", ToolCallFormat.Hermes,
            "Let me check both cities.\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Tokyo\"}}\n</tool_call>",
            "Let me check both cities.", [("get_weather", """{"location":"Paris"}"""), ("get_weather", """{"location":"Tokyo"}""")]),
        new("hermes unclosed last call (stopped at EOS)", ToolCallFormat.Hermes,
            "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"query\": \"a < b and </tool\"}}\n", "", [("search", """{"query":"a < b and </tool"}""")]),
        new("qwen3-coder xml call", ToolCallFormat.Hermes,
            "<tool_call>\n<function=get_weather>\n<parameter=location>\nParis\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>", "",
            [("get_weather", """{"location":"Paris","days":3}""")]),
        new("hermes plain answer", ToolCallFormat.Hermes, "The weather in Paris is sunny, 21 °C.", "The weather in Paris is sunny, 21 °C.", []),
        new("llama 3.1 json call", ToolCallFormat.Llama3,
            "{\"name\": \"get_weather\", \"parameters\": " + Weather + "}", "", [("get_weather", Weather)]),
        new("llama 3.1 python_tag json", ToolCallFormat.Llama3,
            "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"location\": \"Paris\"}}", "", [("get_weather", """{"location":"Paris"}""")]),
        new("llama 3.1 builtin brave_search", ToolCallFormat.Llama3,
            "<|python_tag|>brave_search.call(query=\"weather in Paris today\")", "", [("brave_search", """{"query":"weather in Paris today"}""")]),
        new("llama 3.1 code interpreter", ToolCallFormat.Llama3,
            "<|python_tag|>import math\nprint(math.sqrt(2))", "", [("python", """{"code":"import math\nprint(math.sqrt(2))"}""")]),
        new("llama 3 text that starts like JSON but is not a call", ToolCallFormat.Llama3, "{curly} braces are fun", "{curly} braces are fun", []),
        new("mistral nemo array", ToolCallFormat.Mistral,
            "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": " + Weather + ", \"id\": \"a1b2C3d4e\"}]", "", [("get_weather", Weather)]),
        new("mistral small 3.2 name[ARGS]", ToolCallFormat.Mistral,
            "I'll look that up.[TOOL_CALLS]get_weather[ARGS]{\"location\": \"Paris\"}[TOOL_CALLS]get_time[ARGS]{\"tz\": \"Europe/Paris\"}", "I'll look that up.",
            [("get_weather", """{"location":"Paris"}"""), ("get_time", """{"tz":"Europe/Paris"}""")]),
        new("functionary v3.2 call", ToolCallFormat.FunctionaryV3,
            "get_weather\n{\"location\": \"Paris\"}", "", [("get_weather", """{"location":"Paris"}""")]),
        new("functionary v3.2 text then call", ToolCallFormat.FunctionaryV3,
            "all\nChecking now.>>>get_weather\n{\"location\": \"Paris\"}>>>get_time\n{}", "Checking now.",
            [("get_weather", """{"location":"Paris"}"""), ("get_time", "{}")]),
        new("functionary v3.2 text only", ToolCallFormat.FunctionaryV3, "all\nHello there!", "Hello there!", []),
        // A Python prompt inside an argument string is not a segment separator.
        new("functionary v3.2 arguments holding >>>", ToolCallFormat.FunctionaryV3,
            "run_python\n{\"code\": \">>> print(1)\\n1\"}>>>get_time\n{}", "",
            [("run_python", """{"code":">>> print(1)\n1"}"""), ("get_time", "{}")]),
        new("functionary v3.2 call without arguments", ToolCallFormat.FunctionaryV3, "get_time\n", "", [("get_time", "{}")]),
        new("functionary v3.2 calls on lines of their own", ToolCallFormat.FunctionaryV3,
            "get_weather\n{\"location\": \"Paris\"}\n>>>get_time\n{}\n", "",
            [("get_weather", """{"location":"Paris"}"""), ("get_time", "{}")]),
        new("functionary v3.1 call", ToolCallFormat.FunctionaryV3Llama31,
            "<function=get_weather>{\"location\": \"Paris\"}</function>", "", [("get_weather", """{"location":"Paris"}""")]),
        new("functionary v3.1 python", ToolCallFormat.FunctionaryV3Llama31,
            "Running it.<|python_tag|>print(1+1)", "Running it.", [("python", """{"code":"print(1+1)"}""")]),
        new("deepseek r1 call after thinking", ToolCallFormat.DeepSeek,
            "<think>\nThe user wants the weather.\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"location\": \"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
            "<think>\nThe user wants the weather.\n</think>", [("get_weather", """{"location":"Paris"}""")]),
        new("deepseek v3.1 two calls", ToolCallFormat.DeepSeek,
            "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"location\": \"Paris\"}<｜tool▁call▁end｜><｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{\"tz\": \"CET\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>", "",
            [("get_weather", """{"location":"Paris"}"""), ("get_time", """{"tz":"CET"}""")]),
        new("generic tool_calls", ToolCallFormat.Generic,
            "{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}, {\"name\": \"get_time\", \"arguments\": {}}]}", "",
            [("get_weather", """{"location":"Paris"}"""), ("get_time", "{}")]),
        new("generic bare call", ToolCallFormat.Generic, "  {\"name\": \"get_time\", \"arguments\": \"{\\\"tz\\\": \\\"CET\\\"}\"}", "", [("get_time", """{"tz":"CET"}""")]),
        new("generic response", ToolCallFormat.Generic, "{\"response\": \"It is sunny.\"}", "It is sunny.", []),
        new("generic plain text", ToolCallFormat.Generic, "Once upon a time", "Once upon a time", []),
        new("generic broken json stays content", ToolCallFormat.Generic, "{\"name\": \"get_time\", \"argum", "{\"name\": \"get_time\", \"argum", []),
    ];

    public static TheoryData<Sample> All() => [.. Samples];

    [Theory]
    [MemberData(nameof(All))]
    public void Parses_the_whole_output(Sample sample)
    {
        var parsed = ToolCallSyntax.Of(sample.Format).Parse(sample.Output);
        Assert.Equal(sample.Content, parsed.Content);
        AssertCalls(sample.Calls, parsed.ToolCalls);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Streams_the_same_result_whatever_the_chunking(Sample sample)
    {
        foreach (var size in new[] { 1, 2, 3, 5, 7, 16, 1000 })
        {
            var parser = new ToolCallStreamParser(ToolCallSyntax.Of(sample.Format));
            var events = new List<ToolCallStreamEvent>();
            for (var i = 0; i < sample.Output.Length; i += size)
                events.AddRange(parser.Push(sample.Output.Substring(i, Math.Min(size, sample.Output.Length - i))));
            events.AddRange(parser.Finish());

            var content = string.Concat(events.OfType<ContentEvent>().Select(e => e.Text));
            var parsed = ToolCallSyntax.Of(sample.Format).Parse(sample.Output);
            // Streamed content is exactly the parsed content, except that text before a call is released before its trailing whitespace is known.
            Assert.Equal(parsed.Content.Trim(), content.Trim());
            var calls = events.OfType<CallEvent>().ToList();
            Assert.Equal(Enumerable.Range(0, calls.Count), calls.Select(c => c.Index));
            AssertCalls(sample.Calls, calls.Select(c => c.Call).ToList());
            foreach (var call in calls)
            {
                // Each call is announced by name first, then its argument deltas add up to exactly its arguments.
                var start = events.FindIndex(e => e is CallStartEvent s && s.Index == call.Index);
                Assert.True(start >= 0 && start < events.IndexOf(call), $"call {call.Index} was not announced first (chunk size {size})");
                Assert.Equal(call.Call.Name, ((CallStartEvent)events[start]).Name);
                var deltas = events.OfType<ArgumentsDeltaEvent>().Where(d => d.Index == call.Index).ToList();
                Assert.True(deltas.All(d => events.IndexOf(d) > start && events.IndexOf(d) < events.IndexOf(call)));
                Assert.Equal(call.Call.Arguments, string.Concat(deltas.Select(d => d.Text)));
            }
        }
    }

    [Theory]
    [InlineData(ToolCallFormat.Hermes, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris, France\", \"days\": [1, 2.5, -3], \"note\": \"a \\\"quoted\\\" caf\\u00e9\", \"ok\": true}}\n</tool_call>")]
    [InlineData(ToolCallFormat.Mistral, "[TOOL_CALLS]get_weather[ARGS]{\"location\": \"Paris, France\", \"nested\": {\"a\": null, \"b\": [{}, []]}}")]
    [InlineData(ToolCallFormat.DeepSeek, "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"location\": \"Paris, France\", \"unit\": \"celsius\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>")]
    [InlineData(ToolCallFormat.FunctionaryV3Llama31, "<function=get_weather>{\"location\": \"Paris, France\", \"unit\": \"celsius\"}</function>")]
    [InlineData(ToolCallFormat.FunctionaryV3, "get_weather\n{\"location\": \"Paris, France\", \"unit\": \"celsius\"}")]
    [InlineData(ToolCallFormat.Llama3, "{\"name\": \"get_weather\", \"parameters\": {\"location\": \"Paris, France\", \"unit\": \"celsius\"}}")]
    [InlineData(ToolCallFormat.Generic, "{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris, France\", \"unit\": \"celsius\"}}]}")]
    public void Arguments_stream_as_they_are_generated(ToolCallFormat format, string output)
    {
        var parser = new ToolCallStreamParser(ToolCallSyntax.Of(format));
        var events = new List<(int At, ToolCallStreamEvent Event)>();
        for (var i = 0; i < output.Length; i++)
            events.AddRange(parser.Push(output[i].ToString()).Select(e => (i, e)));
        events.AddRange(parser.Finish().Select(e => (output.Length, e)));

        var start = events.Single(e => e.Event is CallStartEvent);
        Assert.Equal("get_weather", ((CallStartEvent)start.Event).Name);
        // Announced as soon as the name was written, long before the output ended.
        Assert.True(start.At < output.IndexOf("Paris", StringComparison.Ordinal));
        var deltas = events.Where(e => e.Event is ArgumentsDeltaEvent).ToList();
        Assert.True(deltas.Count(d => d.At < output.Length) > 5, $"only {deltas.Count} deltas");
        var call = (CallEvent)events.Single(e => e.Event is CallEvent).Event;
        Assert.Equal(call.Call.Arguments, string.Concat(deltas.Select(d => ((ArgumentsDeltaEvent)d.Event).Text)));
    }

    [Fact]
    public void Content_before_a_call_streams_before_the_call_is_finished()
    {
        var parser = new ToolCallStreamParser(ToolCallSyntax.Of(ToolCallFormat.Hermes));
        var early = parser.Push("Let me check. <tool");
        Assert.Equal("Let me check. ", Assert.IsType<ContentEvent>(Assert.Single(early)).Text);
        Assert.Equal(["f"], parser.Push("_call>\n{\"name\": \"f\", \"arguments\": {}}").OfType<CallStartEvent>().Select(e => e.Name));
        Assert.Equal("f", Assert.Single(parser.Finish().OfType<CallEvent>()).Call.Name);
    }

    [Fact]
    public void A_held_back_marker_prefix_is_released_when_it_turns_out_to_be_text()
    {
        var parser = new ToolCallStreamParser(ToolCallSyntax.Of(ToolCallFormat.Hermes));
        Assert.Equal("a ", Assert.IsType<ContentEvent>(Assert.Single(parser.Push("a <tool"))).Text);
        Assert.Equal("<tools> are handy", Assert.IsType<ContentEvent>(Assert.Single(parser.Push("s> are handy"))).Text);
        Assert.Empty(parser.Finish());
    }

    private static void AssertCalls((string Name, string Arguments)[] expected, IReadOnlyList<ToolCall> actual)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Name, actual[i].Name);
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected[i].Arguments), JsonNode.Parse(actual[i].Arguments)),
                $"call {i}: expected {expected[i].Arguments}, got {actual[i].Arguments}");
        }
    }
}
