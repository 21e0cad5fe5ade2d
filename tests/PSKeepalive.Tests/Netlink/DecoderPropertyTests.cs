using System;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using PSKeepalive.Core.Connections;
using PSKeepalive.Core.Errors;
using PSKeepalive.Core.Netlink;
using Xunit;

namespace PSKeepalive.Tests.Netlink;

/// <summary>
/// Properties of the dump decoder. Model-based: a dump is generated as a model (sockets with every field the
/// decoder reads, unknown attributes, how the dump ends), encoded as the kernel lays it out, decoded, and the
/// result compared with the model field by field; an ending with an errno must raise exactly that errno. And
/// whatever the bytes, decoding either succeeds or raises the one typed exception: never another exception.
/// </summary>
public sealed class DecoderPropertyTests
{
    private static readonly TcpConnectionQuery All = new() { IncludeInfo = true };

    [Fact]
    public void GeneratedDumps_DecodeToExactlyTheirModel()
    {
        Prop.ForAll(DumpModel.Generator.ToArbitrary(), model => model.DecodesAsModelled())
            .Check(Config.QuickThrowOnFailure.WithMaxTest(1000));
    }

    [Fact]
    public void GeneratedDumps_SplitAtAnyMessage_DecodeToTheSameSockets()
    {
        // The kernel fills datagrams as it likes: where a dump is split must not change what it decodes to.
        Gen<(DumpModel Model, int Split)> split =
            from model in DumpModel.Generator.Where(m => m.Ending.Kind != DumpEndingKind.Error && m.Ending.Errno == 0)
            from at in Gen.Choose(0, model.Sockets.Count)
            select (model, at);
        Prop.ForAll(split.ToArbitrary(), c =>
        {
            DumpModel head = c.Model with { Sockets = c.Model.Sockets.Take(c.Split).ToList(), Ending = DumpEnding.None };
            DumpModel tail = c.Model with { Sockets = c.Model.Sockets.Skip(c.Split).ToList() };
            var first = DumpParser.ParseDatagram(head.Encode(), Fixtures.Sequence, All, out bool headDone, out _);
            var second = DumpParser.ParseDatagram(tail.Encode(), Fixtures.Sequence, All, out bool tailDone, out _);
            var whole = DumpParser.ParseDatagram(c.Model.Encode(), Fixtures.Sequence, All, out bool wholeDone, out _);
            return !headDone && tailDone == wholeDone && first.Concat(second).SequenceEqual(whole, ConnectionComparer.Instance);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(300));
    }

    [Fact]
    public void NetlinkErrors_RoundTrip_WithOrWithoutTheEchoedRequestAndTheKernelsText()
    {
        Gen<(int Errno, bool Capped, int EchoedPayload, string? Text)> errors =
            from errno in Gen.Choose(0, 4095)
            from capped in Gen.Elements(true, false)
            from echoed in Gen.Choose(0, 64)
            from text in Gen.Elements<string?>(null, "", "bad request", "Unknown attribute type")
            select (errno, capped, echoed, text);
        Prop.ForAll(errors.ToArbitrary(), e =>
        {
            byte[] message = ErrorMessage(-e.Errno, e.Capped, e.EchoedPayload, e.Text);
            var reader = new NetlinkMessageReader(message);
            reader.TryRead(out NetlinkMessage decoded);
            NetlinkError error = NetlinkError.Decode(decoded.Payload, decoded.Header.Flags);
            return error.Errno == e.Errno && error.ExtendedMessage == e.Text && !reader.TryRead(out _);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(500));
    }

    /// <summary>NLMSG_ERROR as the kernel writes it: error, the echoed request (its payload unless capped), ack TLVs.</summary>
    private static byte[] ErrorMessage(int error, bool capped, int echoedPayload, string? text)
    {
        var body = new System.Collections.Generic.List<byte>();
        body.AddRange(BitConverter.GetBytes(error));
        var echoed = new byte[16 + echoedPayload];
        new NetlinkHeader((uint)echoed.Length, InetDiag.SockDiagByFamily, NetlinkConstants.FlagRequest, Fixtures.Sequence, 0).Write(echoed);
        body.AddRange(capped ? echoed[..16] : echoed);
        while (body.Count % 4 != 0)
        {
            body.Add(0);
        }

        ushort flags = capped ? NetlinkConstants.FlagCapped : (ushort)0;
        if (text is not null)
        {
            flags |= NetlinkConstants.FlagAckTlvs;
            body.AddRange(DecoderTests.Attribute(NetlinkConstants.ErrorAttributeMessage, [.. System.Text.Encoding.UTF8.GetBytes(text), 0]));
        }

        var message = new byte[16 + body.Count];
        new NetlinkHeader((uint)message.Length, NetlinkConstants.MessageError, flags, Fixtures.Sequence, 0).Write(message);
        body.CopyTo(message, 16);
        return message;
    }

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
