using System;
using System.IO;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PSKeepalive.Cli.Output;

/// <summary>
/// Writes JSON to stdout with Utf8JsonWriter: no reflection (trimming and AOT safe), camelCase keys
/// spelled out by each command, and streaming for long arrays.
/// </summary>
internal static class JsonOutput
{
    public static void Write(Action<Utf8JsonWriter> write, bool indented = true)
    {
        using Stream stdout = new PSKeepalive.Core.DescriptorOutputStream();
        using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions
        {
            Indented = indented,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            write(writer);
        }

        stdout.WriteByte((byte)'\n');
    }
}
