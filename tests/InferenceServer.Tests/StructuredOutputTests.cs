using System.ClientModel;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using OpenAI.Chat;

namespace InferenceServer.Tests;

/// <summary>
/// response_format and grammar on stories260K (byte-fallback vocabulary, so it can spell JSON): a story model
/// writes valid JSON only because the grammar forces the shape, so every output must parse and validate.
/// </summary>
[Collection(ToolServerCollection.Name)]
public class StructuredOutputTests(ToolServerFixture server)
{
    private const string PersonSchema = """
        {"type":"object","properties":{
           "name":{"type":"string","maxLength":12},
           "age":{"type":"integer","minimum":0,"maximum":120},
           "mood":{"enum":["happy","sad","sleepy"]}},
         "required":["name","age","mood"],"additionalProperties":false}
        """;

    private ChatClient Chat => server.OpenAI().GetChatClient(ToolServerFixture.ModelId);

    private static ChatCompletionOptions JsonSchemaOptions(long seed) => new()
    {
        ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("person", BinaryData.FromString(PersonSchema), jsonSchemaIsStrict: true),
        MaxOutputTokenCount = 120,
        Temperature = 1,
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK.
        Seed = seed,
#pragma warning restore OPENAI001
    };

    [Fact]
    public async Task Json_schema_answers_always_parse_and_validate_streamed_or_not()
    {
        for (var seed = 1; seed <= 4; seed++)
        {
            ChatCompletion whole = await Chat.CompleteChatAsync([new UserChatMessage("Describe a person.")], JsonSchemaOptions(seed));
            Assert.Equal(ChatFinishReason.Stop, whole.FinishReason);
            SchemaCheck.AssertValid(PersonSchema, whole.Content[0].Text, $"seed {seed}");

            var streamed = new StringBuilder();
            await foreach (var update in Chat.CompleteChatStreamingAsync([new UserChatMessage("Describe a person.")], JsonSchemaOptions(seed)))
                foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            Assert.Equal(whole.Content[0].Text, streamed.ToString());
        }
    }

    [Fact]
    public async Task A_raw_gbnf_grammar_constrains_a_text_completion()
    {
        for (var seed = 1; seed <= 3; seed++)
        {
            using var response = await server.Http.PostAsJsonAsync("v1/completions", new
            {
                model = ToolServerFixture.ModelId, prompt = "Was the cat happy?", max_tokens = 8, temperature = 1, seed,
                grammar = "root ::= (\"yes\" | \"no\") \".\"",
            });
            var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.True(response.IsSuccessStatusCode, json.ToJsonString());
            Assert.Contains((string)json["choices"]![0]!["text"]!, new[] { "yes.", "no." });
        }
    }

    [Theory]
    [InlineData("""{"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"not":{"type":"string"}}}}}""", "response_format.json_schema.schema")]
    [InlineData("""{"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}""", "response_format.json_schema.schema")]
    [InlineData("""{"response_format":{"type":"yaml"}}""", "response_format.type")]
    [InlineData("""{"response_format":{"type":"json_schema","json_schema":{"schema":{"type":"object"}}}}""", "response_format.json_schema.name")]
    [InlineData("""{"response_format":{"type":"json_schema","json_schema":{"name":"a person","schema":{"type":"object"}}}}""", "response_format.json_schema.name")]
    [InlineData("""{"grammar":"root ::= ("}""", "grammar")]
    [InlineData("""{"grammar":"root ::= undefined-rule"}""", "grammar")]
    [InlineData("""{"grammar":"root ::= \"a\"","response_format":{"type":"json_object"}}""", "grammar")]
    public async Task Formats_and_grammars_that_cannot_be_enforced_are_refused_without_harm(string extra, string param)
    {
        var body = JsonNode.Parse(extra)!.AsObject();
        body["model"] = ToolServerFixture.ModelId;
        body["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hi" });
        using var response = await server.Http.PostAsync("v1/chat/completions", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));

        Assert.Equal(400, (int)response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.StartsWith(param, (string?)error["param"]);
        ChatCompletion still = await Chat.CompleteChatAsync([new UserChatMessage("Hi")], new ChatCompletionOptions { MaxOutputTokenCount = 2 });
        Assert.NotNull(still);
    }
}

/// <summary>TinyStories-656K cannot spell '{' or '}': JSON output is refused up front, not crashed on.</summary>
[Collection(ServerCollection.Name)]
public class StructuredOutputOnALimitedVocabularyTests(ServerFixture server)
{
    [Fact]
    public async Task A_json_format_the_vocabulary_cannot_spell_is_a_clear_400()
    {
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => server.OpenAI().GetChatClient(ServerFixture.ModelId).CompleteChatAsync(
            [new UserChatMessage("Hi")], new ChatCompletionOptions { ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat() }));
        Assert.Equal(400, refused.Status);
        Assert.Contains("cannot", refused.Message);

        using var words = await server.Http.PostAsJsonAsync("v1/completions", new
        {
            model = ServerFixture.ModelId, prompt = "The dog was", max_tokens = 12, grammar = """root ::= " happy" | " sad" """,
        });
        var text = (string)JsonNode.Parse(await words.Content.ReadAsStringAsync())!["choices"]![0]!["text"]!;
        Assert.Contains(text, new[] { " happy", " sad" });
    }
}
