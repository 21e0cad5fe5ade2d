namespace PSKeepalive.Core.Errors;

/// <summary>
/// The kernel refused to load a BPF program (BPF_PROG_LOAD): usually its verifier, whose log is kept so that the
/// refusal can be understood (and reported) rather than guessed at. The id is BpfProgramKernelFailure.
/// </summary>
public sealed class BpfVerifierException : KeepaliveException
{
    public BpfVerifierException(string subject, string message, string programName, int errno, string verifierLog)
        : base(KeepaliveErrorKind.KernelFailure, subject, message, programName, errno)
    {
        VerifierLog = verifierLog;
    }

    /// <summary>The verifier's log (log_level 1), empty when the kernel wrote none.</summary>
    public string VerifierLog { get; }
}
