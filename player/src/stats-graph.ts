// A small canvas graph of bandwidth estimate (blue) and buffer length (green) over the last
// samples; each line scaled to its own maximum, with the maxima written in the corner.

/** Rolling two-series graph on a canvas. */
export class StatsGraph {
  private readonly bandwidth: number[] = [];
  private readonly buffer: number[] = [];

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly size: number,
  ) {}

  /** Adds one sample (bit/s, seconds). */
  push(bandwidth: number, buffer: number): void {
    this.bandwidth.push(Number.isFinite(bandwidth) ? bandwidth : 0);
    this.buffer.push(buffer);
    if (this.bandwidth.length > this.size) this.bandwidth.shift();
    if (this.buffer.length > this.size) this.buffer.shift();
  }

  /** Draws the graph. */
  draw(): void {
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const { width, height } = this.canvas;
    ctx.clearRect(0, 0, width, height);
    ctx.fillStyle = '#0008';
    ctx.fillRect(0, 0, width, height);
    const line = (values: number[], color: string) => {
      const max = Math.max(...values, 1e-9);
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      values.forEach((v, i) => {
        const x = (i / (this.size - 1)) * width;
        const y = height - 4 - (v / max) * (height - 16);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
      return max;
    };
    const bw = line(this.bandwidth, '#4ea1ff');
    const buf = line(this.buffer, '#46d17b');
    ctx.fillStyle = '#fff';
    ctx.font = '10px monospace';
    ctx.fillText(`${(bw / 1e6).toFixed(1)} Mbit/s`, 4, 10);
    ctx.fillStyle = '#46d17b';
    ctx.fillText(`${buf.toFixed(1)} s buffer`, width - 80, 10);
  }
}
