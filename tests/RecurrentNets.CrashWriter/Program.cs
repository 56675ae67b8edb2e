using System.Globalization;
using RecurrentNets.Serialization;

// Usage: RecurrentNets.CrashWriter <target.safetensors> <floats>
// Saves the target again and again, version k holding <floats> copies of k and metadata "k", until it is killed.
// The parent test checks after each kill that the target is one whole version and that at most one temporary file is left.
if (args.Length != 2 || !int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out int floats) || floats < 1)
{
    Console.Error.WriteLine("usage: RecurrentNets.CrashWriter <target.safetensors> <floats>");
    return 2;
}

var values = new float[floats];
Console.WriteLine("started");
Console.Out.Flush();
for (int k = 1; ; k++)
{
    Array.Fill(values, k);
    SafeTensorsFile.Write(args[0], [("w", [floats], values)], new Dictionary<string, string> { ["k"] = k.ToString(CultureInfo.InvariantCulture) });
}
