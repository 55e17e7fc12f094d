// Statistics over Monte-Carlo trials: each trial is one chip instance, so the spread over trials is the
// spread a fleet of manufactured chips would show.

/** Two-sided 97.5% quantiles of Student's t for df = 1…30 (beyond: the normal 1.96). */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** Summary of per-trial accuracies: mean, sample std (n − 1), and the 95% CI half-width t·std/√n. */
export interface TrialStats {
  mean: number;
  std: number;
  /** Half-width of the 95% confidence interval of the mean: the mean lies in mean ± ci95. */
  ci95: number;
  trials: number;
  values: number[];
}

/** Mean, sample std and the 95% CI half-width (Student t for up to 31 trials, 1.96 beyond) of per-trial accuracies. */
export function trialStats(values: number[]): TrialStats {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  const t = n > 1 ? (n - 1 <= 30 ? T975[n - 2] : 1.96) : 0;
  return { mean, std, ci95: n > 1 ? (t * std) / Math.sqrt(n) : 0, trials: n, values };
}
