namespace InferenceServer.Engine; internal static class Placeholder { }
