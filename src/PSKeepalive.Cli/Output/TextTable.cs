using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace PSKeepalive.Cli.Output;

/// <summary>A short aligned table for human output: numbers right-aligned, text left-aligned.</summary>
internal sealed class TextTable
{
    private readonly string[] _headers;
    private readonly bool[] _rightAligned;
    private readonly List<string[]> _rows = new();

    public TextTable(params string[] headers)
    {
        _headers = headers;
        _rightAligned = new bool[headers.Length];
    }

    /// <summary>Marks columns (by header) whose values are right-aligned.</summary>
    public TextTable AlignRight(params string[] headers)
    {
        foreach (string header in headers)
        {
            _rightAligned[Array.IndexOf(_headers, header)] = true;
        }

        return this;
    }

    public void Add(params string[] cells)
    {
        if (cells.Length != _headers.Length)
        {
            throw new ArgumentException($"Expected {_headers.Length} cells, got {cells.Length}.", nameof(cells));
        }

        _rows.Add(cells);
    }

    public void Write(TextWriter output)
    {
        int[] widths = _headers.Select((h, i) => Math.Max(h.Length, _rows.Count == 0 ? 0 : _rows.Max(r => r[i].Length))).ToArray();
        var line = new StringBuilder();
        WriteRow(output, line, _headers, widths);
        foreach (string[] row in _rows)
        {
            WriteRow(output, line, row, widths);
        }
    }

    private void WriteRow(TextWriter output, StringBuilder line, string[] cells, int[] widths)
    {
        line.Clear();
        for (int i = 0; i < cells.Length; i++)
        {
            bool last = i == cells.Length - 1;
            string cell = _rightAligned[i] ? cells[i].PadLeft(widths[i]) : last ? cells[i] : cells[i].PadRight(widths[i]);
            line.Append(cell);
            if (!last)
            {
                line.Append("  ");
            }
        }

        output.WriteLine(line.ToString().TrimEnd());
    }
}
