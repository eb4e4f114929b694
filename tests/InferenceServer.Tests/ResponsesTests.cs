#pragma warning disable OPENAI001 // The SDK marks its Responses client experimental.
using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using OpenAI.Responses;

namespace InferenceServer.Tests;

/// <summary>The Responses API through the official OpenAI .NET SDK's ResponsesClient and raw HTTP, on the tool server.</summary>
[Collection(ToolServerCollection.Name)]
public class ResponsesTests(ToolServerFixture server)
{
    private const string CitySchema = """{"type":"object","properties":{"city":{"type":"string","maxLength":12}},"required":["city"],"additionalProperties":false}""";

    private ResponsesClient Responses => server.OpenAI().GetResponsesClient();

    private static CreateResponseOptions Options(string input, int maxTokens = 24) =>
        new(ToolServerFixture.ModelId, [ResponseItem.CreateUserMessageItem(input)]) { MaxOutputTokenCount = maxTokens, Temperature = 0 };

    [Fact]
    public async Task A_response_is_created_stored_read_back_and_deleted_with_the_sdk()
    {
        var options = Options("Tell me a story about a cat.");
        options.Instructions = "You tell short stories.";
        options.Metadata["topic"] = "cats";
        ResponseResult response = await Responses.CreateResponseAsync(options);

        Assert.StartsWith("resp_", response.Id);
        Assert.Equal(ToolServerFixture.ModelId, response.Model);
        var text = response.GetOutputText();
        Assert.False(string.IsNullOrEmpty(text));
        var message = Assert.IsAssignableFrom<MessageResponseItem>(Assert.Single(response.OutputItems));
        Assert.Equal(text, Assert.Single(message.Content).Text);
        Assert.Equal("cats", response.Metadata["topic"]);
        Assert.Equal(24, response.Usage.OutputTokenCount);
        Assert.True(response.Usage.InputTokenCount > 0);
        Assert.Equal(response.Usage.InputTokenCount + response.Usage.OutputTokenCount, response.Usage.TotalTokenCount);
        // Cut at max_output_tokens: OpenAI's "incomplete" with its reason.
        Assert.Equal(ResponseStatus.Incomplete, response.Status);
        Assert.Equal(ResponseIncompleteStatusReason.MaxOutputTokens, response.IncompleteStatusDetails.Reason);

        ResponseResult stored = await Responses.GetResponseAsync(response.Id);
        Assert.Equal(text, stored.GetOutputText());
        var inputItems = new List<ResponseItem>();
        await foreach (var item in Responses.GetResponseInputItemsAsync(response.Id)) inputItems.Add(item);
        var input = Assert.IsAssignableFrom<MessageResponseItem>(Assert.Single(inputItems));
        Assert.Equal("Tell me a story about a cat.", Assert.Single(input.Content).Text);

        ResponseDeletionResult deleted = await Responses.DeleteResponseAsync(response.Id);
        Assert.True(deleted.Deleted);
        var gone = await Assert.ThrowsAsync<ClientResultException>(() => Responses.GetResponseAsync(response.Id));
        Assert.Equal(404, gone.Status);
    }

    [Fact]
    public async Task A_streamed_response_numbers_its_events_and_its_deltas_make_the_final_text()
    {
        var options = Options("Once upon a time", 16);
        options.StreamingEnabled = true;
        var updates = new List<StreamingResponseUpdate>();
        await foreach (var update in await Responses.CreateResponseStreamingAsync(options)) updates.Add(update);

        Assert.Equal(Enumerable.Range(0, updates.Count), updates.Select(u => u.SequenceNumber));
        Assert.IsType<StreamingResponseCreatedUpdate>(updates[0]);
        Assert.IsType<StreamingResponseInProgressUpdate>(updates[1]);
        var deltas = updates.OfType<StreamingResponseOutputTextDeltaUpdate>().ToList();
        Assert.True(deltas.Count > 1, "the text arrived in one piece");
        var last = Assert.IsType<StreamingResponseIncompleteUpdate>(updates[^1]);
        Assert.Equal(string.Concat(deltas.Select(d => d.Delta)), last.Response.GetOutputText());
        Assert.Equal(updates.OfType<StreamingResponseOutputTextDoneUpdate>().Single().Text, last.Response.GetOutputText());
        Assert.Equal(16, last.Response.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task A_continued_conversation_replays_the_stored_turn_and_reuses_its_cached_prompt()
    {
        ResponseResult first = await Responses.CreateResponseAsync(Options("Tell me about a dog named Max.", 12));
        var next = Options("What did Max do next?", 12);
        next.PreviousResponseId = first.Id;
        ResponseResult second = await Responses.CreateResponseAsync(next);

        Assert.Equal(first.Id, second.PreviousResponseId);
        // The second prompt holds the first prompt and its answer, whose KV the prefix cache kept.
        Assert.True(second.Usage.InputTokenCount > first.Usage.InputTokenCount + first.Usage.OutputTokenCount / 2);
        Assert.True(second.Usage.InputTokenDetails.CachedTokenCount >= first.Usage.InputTokenCount / 2,
            $"cached {second.Usage.InputTokenDetails.CachedTokenCount} of {second.Usage.InputTokenCount}; the first prompt was {first.Usage.InputTokenCount}");

        // What the model saw: the stored conversation then the new input, as input_tokens counts it.
        using var count = await server.Http.PostAsJsonAsync("v1/responses/input_tokens",
            new { model = ToolServerFixture.ModelId, input = "What did Max do next?", previous_response_id = first.Id });
        Assert.Equal(second.Usage.InputTokenCount, (int)(await count.Content.ReadFromJsonAsync<JsonObject>())!["input_tokens"]!);
    }

    [Fact]
    public async Task A_function_tool_agent_loop_runs_over_previous_response_id()
    {
        var options = Options("What is the weather in Paris?", 200);
        options.Tools.Add(ResponseTool.CreateFunctionTool("get_weather", BinaryData.FromString(CitySchema), strictModeEnabled: true, "Weather in a city"));
        options.ToolChoice = ResponseToolChoice.CreateRequiredChoice();
        options.ParallelToolCallsEnabled = false;
        ResponseResult asked = await Responses.CreateResponseAsync(options);

        Assert.Equal(ResponseStatus.Completed, asked.Status);
        var call = Assert.Single(asked.OutputItems.OfType<FunctionCallResponseItem>());
        Assert.Equal("get_weather", call.FunctionName);
        Assert.StartsWith("call_", call.CallId);
        SchemaCheck.AssertValid(CitySchema, call.FunctionArguments.ToString(), "get_weather");

        var answer = new CreateResponseOptions(ToolServerFixture.ModelId, [ResponseItem.CreateFunctionCallOutputItem(call.CallId, "Sunny, 21 C")])
        {
            PreviousResponseId = asked.Id, MaxOutputTokenCount = 12, Temperature = 0,
        };
        answer.Tools.Add(ResponseTool.CreateFunctionTool("get_weather", BinaryData.FromString(CitySchema), strictModeEnabled: true, "Weather in a city"));
        ResponseResult answered = await Responses.CreateResponseAsync(answer);
        Assert.False(string.IsNullOrEmpty(answered.GetOutputText()));

        // The tool's output reached the prompt: it renders into the conversation the template saw.
        using var rendered = await server.Http.PostAsJsonAsync("apply-template", new
        {
            messages = new object[]
            {
                new { role = "user", content = "What is the weather in Paris?" },
                new { role = "assistant", content = "", tool_calls = new[] { new { id = call.CallId, type = "function", function = new { name = "get_weather", arguments = call.FunctionArguments.ToString() } } } },
                new { role = "tool", tool_call_id = call.CallId, content = "Sunny, 21 C" },
            },
        });
        Assert.Contains("Sunny, 21 C", (string)(await rendered.Content.ReadFromJsonAsync<JsonObject>())!["prompt"]!);
    }

    [Fact]
    public async Task Streamed_function_calls_announce_the_call_then_its_arguments()
    {
        var options = Options("What is the weather in Rome?", 200);
        options.Tools.Add(ResponseTool.CreateFunctionTool("get_weather", BinaryData.FromString(CitySchema), strictModeEnabled: true, "Weather in a city"));
        options.ToolChoice = ResponseToolChoice.CreateFunctionChoice("get_weather");
        options.StreamingEnabled = true;
        var updates = new List<StreamingResponseUpdate>();
        await foreach (var update in await Responses.CreateResponseStreamingAsync(options)) updates.Add(update);

        var added = updates.OfType<StreamingResponseOutputItemAddedUpdate>().Select(u => u.Item).OfType<FunctionCallResponseItem>().Single();
        Assert.Equal("get_weather", added.FunctionName);
        var argumentDeltas = updates.OfType<StreamingResponseFunctionCallArgumentsDeltaUpdate>().ToList();
        Assert.True(argumentDeltas.Count > 3, $"the arguments came in {argumentDeltas.Count} deltas");
        var arguments = string.Concat(argumentDeltas.Select(u => u.Delta.ToString()));
        var done = updates.OfType<StreamingResponseFunctionCallArgumentsDoneUpdate>().Single();
        Assert.Equal(done.FunctionArguments.ToString(), arguments);
        SchemaCheck.AssertValid(CitySchema, arguments, "streamed get_weather");
        var completed = Assert.IsType<StreamingResponseCompletedUpdate>(updates[^1]);
        Assert.Equal(arguments, completed.Response.OutputItems.OfType<FunctionCallResponseItem>().Single().FunctionArguments.ToString());
    }

    [Fact]
    public async Task A_json_schema_text_format_constrains_the_output()
    {
        var options = Options("Name a city.", 120);
        options.TextOptions = new ResponseTextOptions
        {
            TextFormat = ResponseTextFormat.CreateJsonSchemaFormat("city", BinaryData.FromString(CitySchema), jsonSchemaIsStrict: true),
        };
        ResponseResult response = await Responses.CreateResponseAsync(options);
        Assert.Equal(ResponseStatus.Completed, response.Status);
        SchemaCheck.AssertValid(CitySchema, response.GetOutputText(), "text.format json_schema");
    }

    [Theory]
    [InlineData("""{"input": "Hi", "background": true}""", 400, "background")]
    [InlineData("""{"input": [{"type": "image_generation_call"}]}""", 400, "input[0].type")]
    [InlineData("""{"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "http://x"}]}]}""", 400, "input[0].content[0].type")]
    [InlineData("""{"input": [{"role": "robot", "content": "Hi"}]}""", 400, "input[0].role")]
    [InlineData("""{"input": "Hi", "tools": [{"type": "web_search"}]}""", 400, "tools[0].type")]
    [InlineData("""{"input": "Hi", "tools": [{"type": "function", "name": "bad name"}]}""", 400, "tools[0].name")]
    [InlineData("""{"input": "Hi", "text": {"format": {"type": "xml"}}}""", 400, "text.format.type")]
    [InlineData("""{"input": "Hi", "text": {"format": {"type": "json_schema", "name": "x"}}}""", 400, "text.format.schema")]
    [InlineData("""{"input": "Hi", "text": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}""", 400, "text.format.name")]
    [InlineData("""{"input": "Hi", "text": {"format": {"type": "json_schema", "name": "bad name!", "schema": {"type": "object"}}}}""", 400, "text.format.name")]
    [InlineData("""{"input": "Hi", "reasoning": {"summary": "brief"}}""", 400, "reasoning.summary")]
    [InlineData("""{"input": "Hi", "max_output_tokens": 0}""", 400, "max_output_tokens")]
    [InlineData("""{"input": "Hi", "temperature": 3}""", 400, "temperature")]
    [InlineData("""{"input": "Hi", "top_logprobs": 21}""", 400, "top_logprobs")]
    [InlineData("""{"input": "Hi", "reasoning": {"effort": "extreme"}}""", 400, "reasoning.effort")]
    [InlineData("""{"input": "Hi", "metadata": {"a": 1}}""", 400, "metadata.a")]
    [InlineData("""{"input": "Hi", "previous_response_id": "resp_unknown"}""", 404, "previous_response_id")]
    [InlineData("""{"instructions": "Be brief"}""", 400, "input")]
    public async Task Bad_input_gets_an_openai_shaped_error_naming_the_parameter(string body, int status, string param)
    {
        var json = JsonNode.Parse(body)!.AsObject();
        json["model"] = ToolServerFixture.ModelId;
        using var response = await server.Http.PostAsync("v1/responses", new StringContent(json.ToJsonString(), Encoding.UTF8, "application/json"));
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(param, (string?)error["param"]);
        Assert.False(string.IsNullOrEmpty((string?)error["message"]));
        Assert.NotNull((string?)error["code"]);
        // Errors the chat readers raise are renamed: a message never sends the client to chat's parameters.
        Assert.DoesNotContain("response_format", (string)error["message"]!);
        Assert.DoesNotContain(".function.", (string)error["message"]!);
    }

    [Fact]
    public async Task A_json_schema_format_without_a_name_is_refused_as_at_openai()
    {
        var body = new JsonObject
        {
            ["model"] = ToolServerFixture.ModelId,
            ["input"] = "Hi",
            ["text"] = new JsonObject { ["format"] = new JsonObject { ["type"] = "json_schema", ["schema"] = new JsonObject { ["type"] = "object" } } },
        };
        using var response = await server.Http.PostAsync("v1/responses", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(("text.format.name", "missing_required_parameter"), ((string?)error["param"], (string?)error["code"]));
        Assert.Contains("'text.format.name'", (string)error["message"]!);
    }

    [Fact]
    public async Task A_bad_text_format_type_is_named_as_the_responses_parameter()
    {
        var body = new JsonObject { ["model"] = ToolServerFixture.ModelId, ["input"] = "Hi", ["text"] = new JsonObject { ["format"] = new JsonObject { ["type"] = "xml" } } };
        using var response = await server.Http.PostAsync("v1/responses", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        var message = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["message"]!;
        Assert.Contains("'text.format.type'", message);
        Assert.Contains("'xml'", message);
    }

    [Theory]
    [InlineData("low", "detailed")]
    [InlineData(null, "concise")]
    [InlineData("high", null)]
    public async Task The_reasoning_settings_sent_are_echoed_in_the_response_and_when_read_back(string? effort, string? summary)
    {
        var body = new JsonObject
        {
            ["model"] = ToolServerFixture.ModelId,
            ["input"] = "Hi",
            ["max_output_tokens"] = 2,
            ["reasoning"] = new JsonObject { ["effort"] = effort, ["summary"] = summary },
        };
        using var created = await server.Http.PostAsync("v1/responses", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var response = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
        var stored = (await server.Http.GetFromJsonAsync<JsonObject>($"v1/responses/{(string)response["id"]!}"))!;
        foreach (var echoed in new[] { response, stored })
        {
            Assert.Equal(effort, (string?)echoed["reasoning"]!["effort"]);
            Assert.Equal(summary, (string?)echoed["reasoning"]!["summary"]);
        }
    }

    [Fact]
    public async Task An_unknown_response_is_a_404_for_get_delete_and_input_items()
    {
        foreach (var (method, path) in new[] { (HttpMethod.Get, "v1/responses/resp_nope"), (HttpMethod.Delete, "v1/responses/resp_nope"), (HttpMethod.Get, "v1/responses/resp_nope/input_items") })
        {
            using var response = await server.Http.SendAsync(new HttpRequestMessage(method, path));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("response_not_found", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
        }
    }

    [Fact]
    public async Task A_response_with_store_false_is_not_kept()
    {
        var options = Options("Hello", 4);
        options.StoredOutputEnabled = false;
        ResponseResult response = await Responses.CreateResponseAsync(options);
        var missing = await Assert.ThrowsAsync<ClientResultException>(() => Responses.GetResponseAsync(response.Id));
        Assert.Equal(404, missing.Status);
    }
}
