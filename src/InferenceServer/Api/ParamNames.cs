namespace InferenceServer.Api;

/// <summary>For translators that run the chat readers over a body they built: errors name the client's parameters, not chat's.</summary>
internal static class ParamNames
{
    /// <summary>Runs <paramref name="read"/>; an error's param (and its quoted mention in the message) becomes <paramref name="rename"/>'s.</summary>
    public static T Renamed<T>(Func<T> read, Func<string, string> rename)
    {
        try
        {
            return read();
        }
        catch (ApiException ex) when (ex.Error.Param is { } param)
        {
            var renamed = rename(param);
            throw new ApiException(ex.Error with { Param = renamed, Message = ex.Error.Message.Replace($"'{param}'", $"'{renamed}'") });
        }
    }
}
