namespace InferenceServer.Engine.Tests;

public class StopMatcherTests
{
    [Fact]
    public void Text_without_stops_passes_through_unchanged()
    {
        var matcher = new StopMatcher([]);
        Assert.Equal("hello", matcher.Push("hello"));
        Assert.False(matcher.Stopped);
    }

    [Fact]
    public void A_stop_split_across_pushes_is_never_emitted()
    {
        var matcher = new StopMatcher(["END"]);
        var emitted = matcher.Push("abc E") + matcher.Push("N") + matcher.Push("D tail");
        Assert.Equal("abc ", emitted);
        Assert.True(matcher.Stopped);
    }

    [Fact]
    public void Held_text_is_released_when_it_stops_matching()
    {
        var matcher = new StopMatcher(["END"]);
        Assert.Equal("x", matcher.Push("xE"));
        Assert.Equal("EN!", matcher.Push("N!"));
        Assert.False(matcher.Stopped);
    }

    [Fact]
    public void The_earliest_of_several_stops_wins()
    {
        var matcher = new StopMatcher(["world", "lo"]);
        Assert.Equal("hel", matcher.Push("hello world"));
        Assert.True(matcher.Stopped);
    }

    [Fact]
    public void Flush_returns_a_held_partial_match()
    {
        var matcher = new StopMatcher(["STOP"]);
        Assert.Equal("ok ", matcher.Push("ok ST"));
        Assert.Equal("ST", matcher.Flush());
    }
}
