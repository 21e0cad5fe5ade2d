using System;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Netlink;
using Xunit;

namespace PSKeepalive.Tests.Netlink;

/// <summary>Whatever the bytes, decoding either succeeds or raises the one typed exception: never another exception.</summary>
public sealed class DecoderPropertyTests
{
    private static readonly TcpConnectionQuery All = new() { IncludeInfo = true };

    /// <summary>Random bytes: mostly fail at the first header.</summary>
    [Fact]
    public void RandomBytes_OnlyEverGiveTheTypedException()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<byte[]>(), bytes => DecodesOrRaisesTypedError(bytes))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(3000));
    }

    /// <summary>A real dump with random bytes overwritten and a random cut: reaches deep into the decoder.</summary>
    [Fact]
    public void MutatedRealDumps_OnlyEverGiveTheTypedException()
    {
        byte[][] sources = Fixtures.Ipv4WithInfo.Concat(Fixtures.Ipv6).ToArray();
        Gen<byte[]> mutated =
            from source in Gen.Elements(sources)
            from edits in Gen.ListOf(Gen.Zip(Gen.Choose(0, source.Length - 1), Gen.Choose(0, 255)))
            from cut in Gen.Choose(0, source.Length)
            select Mutate(source, edits, cut);

        Prop.ForAll(mutated.ToArbitrary(), bytes => DecodesOrRaisesTypedError(bytes))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(3000));
    }

    private static byte[] Mutate(byte[] source, System.Collections.Generic.IList<(int Index, int Value)> edits, int cut)
    {
        byte[] copy = (byte[])source.Clone();
        foreach ((int index, int value) in edits)
        {
            copy[index] = (byte)value;
        }

        return copy[..cut];
    }

    private static bool DecodesOrRaisesTypedError(byte[] bytes)
    {
        try
        {
            DumpParser.ParseDatagram(bytes, Fixtures.Sequence, All, out _, out _);
        }
        catch (KeepaliveDataException)
        {
        }
        catch (KeepaliveException e) when (e.Subject == NetlinkSocket.Subject && e.Errno > 0)
        {
            // A well-formed NLMSG_ERROR carrying an errno: the kernel's error, typed by Errno.ToException.
        }

        try
        {
            InetDiag.Decode(bytes);
        }
        catch (KeepaliveDataException)
        {
        }

        return true;
    }
}
