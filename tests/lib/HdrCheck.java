/*
 * What HdrHistogram's own Java library reads in bench's histograms, for
 * tests/bench-ops.bats.  Values are printed in microseconds, one
 * "name value" a line.
 *
 *   java HdrCheck log FILE [V...]       the interval log of --hdr-log,
 *                                       read by HistogramLogReader: a line
 *                                       per interval, then their sum
 *   java HdrCheck encoded B64... [-- V...]
 *                                       the sum of the encoded histograms
 *                                       (the JSON's), then its percentile
 *                                       spectrum as HdrHistogram prints it
 *
 * For each V, "equivalent V E": E is the highest value that counts the
 * same as V.
 */
import java.io.File;
import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.Locale;

import org.HdrHistogram.EncodableHistogram;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;

public class HdrCheck {
	static void stats(Histogram h) {
		System.out.println("count " + h.getTotalCount());
		System.out.println("max " + h.getMaxValue());
		System.out.println("p50 " + h.getValueAtPercentile(50));
		System.out.println("p90 " + h.getValueAtPercentile(90));
		System.out.println("p99 " + h.getValueAtPercentile(99));
		System.out.println("p99.9 " + h.getValueAtPercentile(99.9));
	}

	static void equivalents(Histogram h, String[] args, int from) {
		for (int i = from; i < args.length; i++) {
			long v = Long.parseLong(args[i]);
			System.out.println("equivalent " + v + " " +
			    h.highestEquivalentValue(v));
		}
	}

	public static void main(String[] args) throws Exception {
		Histogram sum = new Histogram(1, 86400000000L, 3);
		int i;

		if (args[0].equals("log")) {
			HistogramLogReader r =
			    new HistogramLogReader(new File(args[1]));
			EncodableHistogram e;
			while ((e = r.nextIntervalHistogram()) != null) {
				Histogram h = (Histogram)e;
				System.out.println(String.format(Locale.US,
				    "interval %.3f %.3f %d %d",
				    h.getStartTimeStamp() / 1000.0 -
				    r.getStartTimeSec(),
				    (h.getEndTimeStamp() -
				    h.getStartTimeStamp()) / 1000.0,
				    h.getTotalCount(), h.getMaxValue()));
				sum.add(h);
			}
			stats(sum);
			equivalents(sum, args, 2);
			return;
		}
		for (i = 1; i < args.length && !args[i].equals("--"); i++) {
			byte[] b = Base64.getDecoder().decode(args[i]);
			sum.add(Histogram.decodeFromCompressedByteBuffer(
			    ByteBuffer.wrap(b), 0));
		}
		stats(sum);
		equivalents(sum, args, i + 1);
		System.out.println("spectrum");
		sum.outputPercentileDistribution(System.out, 5, 1000.0);
	}
}
