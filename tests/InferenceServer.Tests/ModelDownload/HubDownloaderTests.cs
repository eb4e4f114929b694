using InferenceServer.ModelDownload;

namespace InferenceServer.Tests.ModelDownload;

/// <summary>The real downloader against the hub stand-in: what a user meets on the first and every later start.</summary>
public sealed class HubDownloaderTests : IAsyncLifetime, IDisposable
{
    private const string Repo = "test-owner/tiny-GGUF";
    private static readonly byte[] Model = File.ReadAllBytes(TestFixtures.Model(ServerFixture.ModelFile));
    private readonly string _cache = Directory.CreateTempSubdirectory("hub-cache-").FullName;
    private HubStandIn _hub = null!;

    public async Task InitializeAsync()
    {
        _hub = await HubStandIn.StartAsync();
        _hub.Add(Repo, ServerFixture.ModelFile, Model);
    }

    public async Task DisposeAsync() => await _hub.DisposeAsync();

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    private sealed class RecordingProgress : IDownloadProgress
    {
        public List<(long? Total, long Start, long Last)> Downloads { get; } = [];

        public async Task TrackAsync(string name, long? totalBytes, long startBytes, Func<Action<long>, Task> download)
        {
            var last = startBytes;
            try
            {
                await download(bytes => last = bytes);
            }
            finally
            {
                Downloads.Add((totalBytes, startBytes, last));
            }
        }
    }

    private async Task<string> GetAsync(HubFile file, string? token = null, IDownloadProgress? progress = null)
    {
        using var handler = HubDownloader.CreateHandler();
        var downloader = new HubDownloader(new HubSettings(_hub.Endpoint, token, _cache), handler, progress ?? new RecordingProgress());
        return await downloader.GetAsync(file, CancellationToken.None);
    }

    private static HubFile TinyModel => new("test-owner", "tiny-GGUF", ServerFixture.ModelFile);

    [Fact]
    public async Task A_fresh_download_lands_verified_in_the_cache_with_progress_up_to_the_size()
    {
        var progress = new RecordingProgress();
        var path = await GetAsync(TinyModel, progress: progress);

        Assert.Equal(Path.Combine(_cache, "test-owner", "tiny-GGUF", ServerFixture.ModelFile), path);
        Assert.Equal(Model, await File.ReadAllBytesAsync(path));
        Assert.False(File.Exists(path + ".part"));
        Assert.Equal((Model.Length, 0L, (long)Model.Length), Assert.Single(progress.Downloads));
        Assert.Equal(1, _hub.BodyDownloads);
        Assert.Contains(_hub.Requests, r => r == $"HEAD /{Repo}/resolve/main/{ServerFixture.ModelFile}");
    }

    [Fact]
    public async Task A_cached_file_is_used_on_the_next_start_without_asking_the_hub()
    {
        var first = await GetAsync(TinyModel);
        var requestsAfterFirst = _hub.Requests.Count;

        var second = await GetAsync(TinyModel);

        Assert.Equal(first, second);
        Assert.Equal(requestsAfterFirst, _hub.Requests.Count);
        Assert.Equal(1, _hub.BodyDownloads);
    }

    [Fact]
    public async Task A_broken_download_resumes_where_it_stopped_with_a_range_request()
    {
        var half = Model.Length / 2;
        _hub.BreakNextBodyAfter = half;

        var broken = await Assert.ThrowsAsync<ModelDownloadException>(() => GetAsync(TinyModel));
        Assert.Contains("resume", broken.Message);
        var partial = Path.Combine(_cache, "test-owner", "tiny-GGUF", ServerFixture.ModelFile + ".part");
        var kept = new FileInfo(partial).Length;
        Assert.InRange(kept, 1, half);

        var progress = new RecordingProgress();
        var path = await GetAsync(TinyModel, progress: progress);

        Assert.Equal(Model, await File.ReadAllBytesAsync(path));
        Assert.Contains(_hub.Requests, r => r.StartsWith("GET /storage/") && r.Contains($"bytes={kept}-"));
        Assert.Equal((Model.Length, kept, (long)Model.Length), Assert.Single(progress.Downloads));
    }

    [Fact]
    public async Task A_file_whose_sha256_differs_from_the_published_one_is_refused_and_deleted()
    {
        var published = new string('a', 64);
        _hub.Add("test-owner/tampered", "model.gguf", Model, publishedSha256: published);

        var refused = await Assert.ThrowsAsync<ModelDownloadException>(() => GetAsync(new HubFile("test-owner", "tampered", "model.gguf")));

        Assert.Contains($"expected {published}", refused.Message);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_cache, "test-owner", "tampered")));
    }

    [Fact]
    public async Task A_missing_file_stops_with_a_404_line_naming_it()
    {
        var missing = await Assert.ThrowsAsync<ModelDownloadException>(() => GetAsync(new HubFile("test-owner", "tiny-GGUF", "missing.gguf")));

        Assert.Equal("Hugging Face has no hf://test-owner/tiny-GGUF/missing.gguf (404): check the repository and file names.", missing.Message);
    }

    [Fact]
    public async Task A_private_repository_needs_the_token_which_never_reaches_the_storage()
    {
        _hub.Add("test-owner/private", "model.gguf", Model, isPrivate: true);
        var file = new HubFile("test-owner", "private", "model.gguf");

        var refused = await Assert.ThrowsAsync<ModelDownloadException>(() => GetAsync(file));
        Assert.Contains("(401)", refused.Message);
        Assert.Contains("HF_TOKEN", refused.Message);

        var path = await GetAsync(file, token: HubStandIn.Token);
        Assert.Equal(Model, await File.ReadAllBytesAsync(path));
        Assert.Contains(_hub.Requests, r => r == "HEAD /test-owner/private/resolve/main/model.gguf auth");
        Assert.DoesNotContain(_hub.Requests, r => r.StartsWith("GET /storage/") && r.EndsWith("auth"));
    }

    [Fact]
    public async Task An_unreachable_hub_stops_with_one_line_saying_so()
    {
        var endpoint = _hub.Endpoint;
        await _hub.DisposeAsync();
        _hub = await HubStandIn.StartAsync(); // DisposeAsync of the test disposes this one

        using var handler = HubDownloader.CreateHandler();
        var downloader = new HubDownloader(new HubSettings(endpoint, null, _cache), handler, new RecordingProgress());
        var offline = await Assert.ThrowsAsync<ModelDownloadException>(() => downloader.GetAsync(TinyModel, CancellationToken.None));

        Assert.StartsWith("Cannot download hf://test-owner/tiny-GGUF/TinyStories-656K-Q8_0.gguf: 127.0.0.1 is unreachable", offline.Message);
        Assert.DoesNotContain('\n', offline.Message);
    }
}
