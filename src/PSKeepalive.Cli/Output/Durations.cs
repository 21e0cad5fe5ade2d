using System.Text;

namespace PSKeepalive.Cli.Output;

/// <summary>Seconds as people read them: 7875 -> "2h11m15s", 59 -> "59s".</summary>
internal static class Durations
{
    public static string Format(double seconds)
    {
        if (seconds < 60)
        {
            return seconds == (long)seconds ? $"{(long)seconds}s" : $"{seconds:0.##}s";
        }

        long total = (long)seconds;
        var text = new StringBuilder();
        long days = total / 86400, hours = total / 3600 % 24, minutes = total / 60 % 60, rest = total % 60;
        if (days > 0)
        {
            text.Append(days).Append('d');
        }

        if (hours > 0)
        {
            text.Append(hours).Append('h');
        }

        if (minutes > 0)
        {
            text.Append(minutes).Append('m');
        }

        if (rest > 0)
        {
            text.Append(rest).Append('s');
        }

        return text.ToString();
    }
}
