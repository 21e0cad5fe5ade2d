using System;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using PSKeepalive.Core.Errors;

namespace PSKeepalive.Core.Connections;

/// <summary>
/// One value of an address filter, as Get-NetTCPConnection users write them: an address ("127.0.0.1", "::1",
/// "[::1]"), a CIDR block ("10.0.0.0/8", "fe80::/10"), a wildcard pattern on the address text ("127.*", "10.0.*",
/// "fe80::*"; * and ? only), or "*" for any. IPv4 values also match the IPv4-mapped form (::ffff:a.b.c.d) an IPv6
/// socket reports for an IPv4 peer.
/// </summary>
public sealed class AddressPattern
{
    private readonly byte[]? _prefix;
    private readonly int _prefixBits;
    private readonly string? _wildcard;

    private AddressPattern(string text, byte[]? prefix, int prefixBits, string? wildcard)
    {
        Text = text;
        _prefix = prefix;
        _prefixBits = prefixBits;
        _wildcard = wildcard;
    }

    /// <summary>The value as given.</summary>
    public string Text { get; }

    /// <summary>True for a wildcard pattern: matching it formats the address as text.</summary>
    public bool NeedsText => _wildcard is not null && _wildcard != "*";

    /// <summary>True for "*": the pattern matches every address.</summary>
    public bool MatchesAll => _wildcard == "*";

    /// <summary>Parses one filter value; <paramref name="parameterName"/> names it in the error.</summary>
    /// <exception cref="KeepaliveValidationException">Not an address, CIDR block or wildcard pattern of address characters.</exception>
    public static AddressPattern Parse(string text, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(text);
        string trimmed = text.Trim();
        if (trimmed.Contains('*', StringComparison.Ordinal) || trimmed.Contains('?', StringComparison.Ordinal))
        {
            foreach (char c in trimmed)
            {
                if (!(char.IsAsciiHexDigit(c) || c is '.' or ':' or '*' or '?'))
                {
                    throw Invalid(text, parameterName);
                }
            }

            return new AddressPattern(text, null, 0, trimmed.ToLowerInvariant());
        }

        int slash = trimmed.IndexOf('/', StringComparison.Ordinal);
        string addressPart = slash < 0 ? trimmed : trimmed[..slash];
        if (!TryParseAddress(addressPart, out IPAddress? address))
        {
            throw Invalid(text, parameterName);
        }

        bool ipv4 = address.AddressFamily == AddressFamily.InterNetwork;
        int bits = ipv4 ? 32 : 128;
        if (slash >= 0 && (!int.TryParse(trimmed.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out bits) || bits > (ipv4 ? 32 : 128)))
        {
            throw new KeepaliveValidationException(
                TcpConnectionQuery.Subject,
                parameterName,
                $"{parameterName} '{text}': the prefix length after '/' must be 0 to {(ipv4 ? 32 : 128)} for an {(ipv4 ? "IPv4" : "IPv6")} address.",
                text);
        }

        // IPv4 in its IPv4-mapped IPv6 form: ::ffff:0:0/96 followed by the IPv4 prefix.
        byte[] bytes = ipv4 ? address.MapToIPv6().GetAddressBytes() : address.GetAddressBytes();
        return new AddressPattern(text, bytes, ipv4 ? 96 + bits : bits, null);
    }

    /// <summary>
    /// True when the socket address matches. <paramref name="address"/> holds 4 bytes for an AF_INET socket, 16 for
    /// AF_INET6; <paramref name="text"/> formats it (called only by wildcard patterns, and at most once per call).
    /// </summary>
    public bool Matches(ReadOnlySpan<byte> address, Func<string> text)
    {
        if (_prefix is not null)
        {
            if (address.Length != 4)
            {
                return PrefixEquals(address, _prefix, _prefixBits);
            }

            Span<byte> mapped = stackalloc byte[16];
            mapped.Clear();
            mapped[10] = 0xff;
            mapped[11] = 0xff;
            address.CopyTo(mapped.Slice(12));
            return PrefixEquals(mapped, _prefix, _prefixBits);
        }

        if (_wildcard == "*")
        {
            return true;
        }

        string formatted = text();
        if (Wildcard.IsMatch(formatted, _wildcard!))
        {
            return true;
        }

        // An IPv6 socket's IPv4-mapped address also answers to the IPv4 text ("127.*" matches ::ffff:127.0.0.1).
        const string MappedPrefix = "::ffff:";
        return address.Length == 16 && formatted.StartsWith(MappedPrefix, StringComparison.Ordinal) && formatted.Contains('.', StringComparison.Ordinal)
            && Wildcard.IsMatch(formatted[MappedPrefix.Length..], _wildcard!);
    }

    public override string ToString() => Text;

    private static bool TryParseAddress(string text, out IPAddress address)
    {
        if (text.StartsWith('[') && text.EndsWith(']'))
        {
            text = text[1..^1];
        }

        if (IPAddress.TryParse(text, out IPAddress? parsed)
            && (parsed.AddressFamily == AddressFamily.InterNetwork || (parsed.AddressFamily == AddressFamily.InterNetworkV6 && parsed.ScopeId == 0))
            && (parsed.AddressFamily != AddressFamily.InterNetwork || text.Split('.').Length == 4))
        {
            address = parsed;
            return true;
        }

        address = IPAddress.None;
        return false;
    }

    private static bool PrefixEquals(ReadOnlySpan<byte> address, byte[] prefix, int bits)
    {
        int whole = bits / 8;
        if (!address.Slice(0, whole).SequenceEqual(prefix.AsSpan(0, whole)))
        {
            return false;
        }

        int rest = bits % 8;
        if (rest == 0)
        {
            return true;
        }

        int mask = 0xff << (8 - rest) & 0xff;
        return (address[whole] & mask) == (prefix[whole] & mask);
    }

    private static KeepaliveValidationException Invalid(string text, string parameterName) => new(
        TcpConnectionQuery.Subject,
        parameterName,
        $"{parameterName} '{text}' is not an IPv4 or IPv6 address, a CIDR block (10.0.0.0/8, fe80::/10) or a wildcard pattern (127.*, 10.0.*).",
        text);

    /// <summary>* (any run) and ? (one character) over ASCII text, case-insensitively (the pattern is lower case).</summary>
    private static class Wildcard
    {
        public static bool IsMatch(string text, string pattern)
        {
            int t = 0, p = 0, star = -1, resume = 0;
            while (t < text.Length)
            {
                if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == char.ToLowerInvariant(text[t])))
                {
                    t++;
                    p++;
                }
                else if (p < pattern.Length && pattern[p] == '*')
                {
                    star = p++;
                    resume = t;
                }
                else if (star >= 0)
                {
                    p = star + 1;
                    t = ++resume;
                }
                else
                {
                    return false;
                }
            }

            while (p < pattern.Length && pattern[p] == '*')
            {
                p++;
            }

            return p == pattern.Length;
        }
    }
}
