using System.Diagnostics;

namespace RecurrentNets.Tests;

/// <summary>Collects what is written to a trace listener (for tests of warnings sent through <see cref="Trace"/>).</summary>
internal sealed class CapturingListener : TraceListener
{
    private readonly System.Text.StringBuilder text = new();

    public string Text
    {
        get
        {
            lock (text)
            {
                return text.ToString();
            }
        }
    }

    public override void Write(string? message)
    {
        lock (text)
        {
            text.Append(message);
        }
    }

    public override void WriteLine(string? message)
    {
        lock (text)
        {
            text.AppendLine(message);
        }
    }
}
