using BenchmarkDotNet.Running;

namespace PSKeepalive.Benchmarks;

/// <summary>
/// dotnet run -c Release -- --filter '*Decoder*'   (no kernel state needed)
/// dotnet run -c Release -- --filter '*Dump*'      (while ../shared/bench/conn-farm holds N pairs; see listers/run-listers-compare.sh)
/// dotnet run -c Release -- --filter '*Watch*'     (one watch sample against one enumeration; same farm)
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, new InProcessConfig());
}
