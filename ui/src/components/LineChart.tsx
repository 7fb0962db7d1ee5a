import { useEffect, useRef } from "react";
import uPlot from "uplot";

export interface Series {
  label: string;
  x: number[];
  y: number[];
}

const PALETTE = ["#2457c5", "#d23b3b", "#2e9d4f", "#f08a3c", "#8e44ad", "#16a2b8", "#b8860b", "#e83e8c"];

/** Align series on their x values (steps) for uPlot: one x array, one y array per series. */
export function align(series: Series[]): uPlot.AlignedData {
  const xs = Array.from(new Set(series.flatMap((s) => s.x))).sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const out: (number | null)[] = new Array(xs.length).fill(null);
    s.x.forEach((x, i) => {
      out[index.get(x)!] = s.y[i];
    });
    return out;
  });
  return [xs, ...ys] as uPlot.AlignedData;
}

/** Step-wise line chart; uPlot draws 100,000 points without freezing the page. */
export function LineChart({ series, title, height = 260 }: { series: Series[]; title?: string; height?: number }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current || series.length === 0) return;
    const width = el.current.clientWidth || 600;
    const plot = new uPlot(
      {
        title,
        width,
        height,
        scales: { x: { time: false } },
        axes: [{ stroke: "#8893a0", label: "step" }, { stroke: "#8893a0" }],
        series: [
          { label: "step" },
          ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true })),
        ],
      },
      align(series),
      el.current,
    );
    const resize = () => el.current && plot.setSize({ width: el.current.clientWidth, height });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.destroy();
    };
  }, [series, title, height]);
  return <div ref={el} role="img" aria-label={title ?? "line chart"} />;
}
