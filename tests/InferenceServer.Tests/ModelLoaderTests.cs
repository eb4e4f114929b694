using InferenceServer.Llama;
using Microsoft.Extensions.Configuration;

namespace InferenceServer.Tests;

/// <summary>How the command line becomes llama.cpp's settings and the engine's options for each model.</summary>
public class ModelLoaderTests
{
    private static ServerOptions Options(params string[] args)
    {
        Assert.Null(CommandLine.TryParse(args, out var flags, out _));
        return new ConfigurationBuilder().AddInMemoryCollection(flags).Build().GetSection(ServerOptions.Section).Get<ServerOptions>()!;
    }

    [Fact]
    public void Server_wide_flags_and_the_model_s_own_settings_become_llama_settings()
    {
        var options = Options("-m", "a=/models/a.gguf,ctx=2048,parallel=2,chat_template=chatml", "-m", "/models/b.gguf",
            "-t", "3", "-b", "256", "-ub", "128", "-ctk", "q4_0", "-ctv", "q8_0", "-kvu", "-np", "5");
        var specs = ModelSpec.From(options);

        var a = ModelLoader.Settings(options, specs[0], "/resolved/a.gguf");
        Assert.Equal(new LlamaModelSettings("/resolved/a.gguf", 2048, 2, 256, 128, 3, KvUnified: true, ChatTemplate: "chatml")
        {
            KeyType = KvCacheType.Parse("q4_0"),
            ValueType = KvCacheType.Parse("q8_0")!,
        }, a);
        var b = ModelLoader.Settings(options, specs[1], "/resolved/b.gguf");
        Assert.Equal((0, 5, (string?)null), (b.ContextCells, b.MaxSequences, b.ChatTemplate));
    }

    [Fact]
    public void Auto_keys_leave_the_key_type_to_the_model_s_shape_and_no_thread_count_means_every_core()
    {
        var options = Options("-m", "/models/a.gguf");
        var settings = ModelLoader.Settings(options, ModelSpec.From(options)[0], "/a.gguf");

        Assert.Null(settings.KeyType);
        Assert.Equal(KvCacheType.F16, settings.ValueType);
        Assert.Equal(Environment.ProcessorCount, settings.Threads);
        Assert.Equal(0, settings.GpuLayers);
        Assert.False(settings.KvUnified);
    }

    [Theory]
    [InlineData(new string[0], 256, true, null)]
    [InlineData(new[] { "--max-queue", "3", "--no-prefix-cache", "--max-queue-wait", "2.5" }, 3, false, 2.5)]
    public void Queue_and_prefix_cache_flags_become_engine_options(string[] flags, int maxQueue, bool prefixCaching, double? maxWaitSeconds)
    {
        var engine = ModelLoader.EngineOptions(Options(["-m", "/a.gguf", .. flags]), draftModel: null);

        Assert.Equal(maxQueue, engine.MaxQueuedRequests);
        Assert.Equal(prefixCaching, engine.PrefixCaching);
        Assert.Equal(maxWaitSeconds is { } s ? TimeSpan.FromSeconds(s) : null, engine.MaxQueueWait);
        Assert.Null(engine.Speculation.Drafter);
    }
}
