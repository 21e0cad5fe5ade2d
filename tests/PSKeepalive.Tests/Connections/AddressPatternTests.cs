using System.Net;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using Xunit;

namespace PSKeepalive.Tests.Connections;

/// <summary>Address filter values as Get-NetTCPConnection users write them: addresses, CIDR blocks, wildcards; no kernel needed.</summary>
public sealed class AddressPatternTests
{
    [Theory]
    // Exact addresses; an IPv4 value also matches the IPv4-mapped form of an IPv6 socket.
    [InlineData("127.0.0.1", "127.0.0.1", true)]
    [InlineData("127.0.0.1", "::ffff:127.0.0.1", true)]
    [InlineData("127.0.0.1", "127.0.0.2", false)]
    [InlineData("[::1]", "::1", true)]
    [InlineData("::1", "::ffff:0.0.0.1", false)]
    // CIDR blocks.
    [InlineData("10.0.0.0/8", "10.200.3.4", true)]
    [InlineData("10.0.0.0/8", "11.0.0.1", false)]
    [InlineData("10.0.0.0/8", "::ffff:10.9.9.9", true)]
    [InlineData("192.168.4.0/22", "192.168.7.255", true)]
    [InlineData("192.168.4.0/22", "192.168.8.0", false)]
    [InlineData("0.0.0.0/0", "203.0.113.9", true)]
    [InlineData("0.0.0.0/0", "2001:db8::1", false)]
    [InlineData("fe80::/10", "fe80::1", true)]
    [InlineData("fe80::/10", "febf::1", true)]
    [InlineData("fe80::/10", "fec0::1", false)]
    [InlineData("[2001:db8::]/32", "2001:db8:ffff::1", true)]
    // Wildcards on the address text, case-insensitive.
    [InlineData("127.*", "127.0.0.1", true)]
    [InlineData("127.*", "::ffff:127.0.0.1", true)]
    [InlineData("10.0.*", "10.0.12.1", true)]
    [InlineData("10.0.*", "10.1.0.1", false)]
    [InlineData("10.0.*", "110.0.0.1", false)]
    [InlineData("127.0.0.?", "127.0.0.9", true)]
    [InlineData("127.0.0.?", "127.0.0.10", false)]
    [InlineData("FE80::*", "fe80::1", true)]
    [InlineData("::ffff:*", "::ffff:127.0.0.1", true)]
    [InlineData("::ffff:*", "127.0.0.1", false)]
    [InlineData("*", "2001:db8::1", true)]
    public void Matches(string pattern, string address, bool expected)
    {
        AddressPattern parsed = AddressPattern.Parse(pattern, "LocalAddress");
        IPAddress ip = IPAddress.Parse(address);
        byte[] bytes = ip.GetAddressBytes(); // 4 bytes: an AF_INET socket; 16: AF_INET6

        Assert.Equal(expected, parsed.Matches(bytes, ip.ToString));
    }

    [Theory]
    [InlineData("not-an-address", "is not an IPv4 or IPv6 address")]
    [InlineData("10", "is not an IPv4 or IPv6 address")] // IPAddress.Parse would take it for 0.0.0.10
    [InlineData("10.0.0.0/33", "0 to 32")]
    [InlineData("::/129", "0 to 128")]
    [InlineData("10.0.0.0/x", "prefix length")]
    [InlineData("10.*/8", "is not an IPv4 or IPv6 address")]
    [InlineData("fe80::1%2", "is not an IPv4 or IPv6 address")]
    public void Parse_RefusesWhatIsNoAddressPattern_NamingTheParameter(string pattern, string message)
    {
        var error = Assert.Throws<KeepaliveValidationException>(() => AddressPattern.Parse(pattern, "RemoteAddress"));

        Assert.Equal("ConnectionInvalidArgument", error.ErrorId);
        Assert.Equal("RemoteAddress", error.ParameterName);
        Assert.Contains(message, error.Message, System.StringComparison.Ordinal);
        Assert.StartsWith("RemoteAddress '", error.Message, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Star_MatchesAll_SoAQueryWithItHasNoAddressFilter()
    {
        Assert.True(AddressPattern.Parse(" * ", "LocalAddress").MatchesAll);
        Assert.False(new TcpConnectionQuery { LocalAddresses = ["*"] }.HasFilter);
        Assert.False(new TcpConnectionQuery { LocalAddresses = ["*", "10.*"] }.HasFilter); // any value may match: "*" does
        Assert.True(new TcpConnectionQuery { LocalAddresses = ["10.*"] }.HasFilter);
        Assert.False(AddressPattern.Parse("10.*", "LocalAddress").MatchesAll);
    }
}
