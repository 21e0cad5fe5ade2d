using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using PSKeepalive.Core;

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

    /// <summary>
    /// When more than 0: a last-column text that would make its line wider than this is wrapped at spaces onto
    /// continuation lines indented to that column (nothing is cut off; --json stays one value).
    /// </summary>
    public int MaxWidth { get; init; }

    public void Add(params string[] cells)
    {
        if (cells.Length != _headers.Length)
        {
            throw new ArgumentException($"Expected {_headers.Length} cells, got {cells.Length}.", nameof(cells));
        }

        // Cells may quote what processes call themselves: nothing in them may reach the terminal as a control.
        _rows.Add(Array.ConvertAll(cells, TerminalText.Escape));
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
            if (last && !_rightAligned[i] && MaxWidth > 0 && line.Length + cell.Length > MaxWidth && MaxWidth - line.Length >= 20)
            {
                AppendWrapped(line, cell, line.Length, MaxWidth - line.Length);
                break;
            }

            line.Append(cell);
            if (!last)
            {
                line.Append("  ");
            }
        }

        output.WriteLine(line.ToString().TrimEnd());
    }

    /// <summary>Appends <paramref name="text"/> in lines of at most <paramref name="room"/> characters, broken at spaces where possible.</summary>
    private static void AppendWrapped(StringBuilder line, string text, int indent, int room)
    {
        bool first = true;
        while (text.Length > 0)
        {
            int take = text.Length;
            if (take > room)
            {
                int space = text.LastIndexOf(' ', room);
                take = space > 0 ? space : room;
            }

            if (!first)
            {
                line.Append(Environment.NewLine).Append(' ', indent);
            }

            line.Append(text.AsSpan(0, take).TrimEnd());
            text = text[take..].TrimStart();
            first = false;
        }
    }
}
