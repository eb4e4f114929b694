namespace InferenceServer.Llama; internal static class Placeholder { }
