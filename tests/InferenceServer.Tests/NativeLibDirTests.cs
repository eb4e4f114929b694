using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;

namespace InferenceServer.Tests;

/// <summary>
/// --native-lib-dir loads llama.cpp from a folder instead of the package's. LLamaSharp fixes its library once per
/// process, so this starts the built server as its own process, with LLamaSharp's "noavx" natives copied
/// elsewhere (the image puts a llama.cpp built for the machine there instead).
/// </summary>
public sealed class NativeLibDirTests
{
    [Fact]
    public async Task The_server_loads_llama_cpp_from_the_given_folder_logs_it_and_serves()
    {
        var packaged = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "noavx");
        var folder = Directory.CreateTempSubdirectory("natives-").FullName;
        foreach (var library in Directory.GetFiles(packaged, "*.so")) File.Copy(library, Path.Combine(folder, Path.GetFileName(library)));
        var port = FreePort();
        var server = Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "InferenceServer.dll"), "-m", TestFixtures.Model(ServerFixture.ModelFile),
                "--port", port.ToString(), "-np", "1", "-t", "2", "--native-lib-dir", folder },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            string? libraryLine = null;
            while (await server.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line.Contains("llama.cpp library")) libraryLine = line;
                if (line.Contains("is ready")) break;
            }
            Assert.NotNull(libraryLine);
            Assert.Contains($"llama.cpp library {Path.Combine(folder, "libllama.so")};", libraryLine);
            Assert.DoesNotContain("AVX2 = 1", libraryLine); // the noavx build, not the avx2 one the package would pick here

            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health")).StatusCode);
            var completion = await http.PostAsJsonAsync("v1/completions", new { model = ServerFixture.ModelId, prompt = "Once upon a time", max_tokens = 4 });
            Assert.Equal(HttpStatusCode.OK, completion.StatusCode);
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_folder_without_libllama_stops_the_server_with_one_line()
    {
        var empty = Directory.CreateTempSubdirectory("natives-").FullName;
        var server = Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "InferenceServer.dll"), "-m", TestFixtures.Model(ServerFixture.ModelFile), "--native-lib-dir", empty },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var error = await server.StandardError.ReadToEndAsync();
        await server.WaitForExitAsync();
        Directory.Delete(empty);

        Assert.Equal(2, server.ExitCode);
        Assert.Equal($"error: --native-lib-dir '{empty}' has no libllama.so (the folder must hold libllama.so and its libggml*.so).", error.Trim());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
