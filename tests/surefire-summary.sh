#!/usr/bin/env bash
# Prints one line of test counts from Maven Surefire's XML reports, for the JVM suites'
# run scripts:   tests/surefire-summary.sh LABEL REPORTS_DIR   →   "LABEL: 27 passed, 0 failed, 0 skipped"
# Prints nothing when the folder holds no report (the build failed before the tests ran).
set -euo pipefail
label=$1
reports=("$2"/TEST-*.xml)
[ -e "${reports[0]}" ] || exit 0
LABEL=$label perl -ne '
    if (/<testsuite\b/) {
        for my $k (qw(tests failures errors skipped)) { $n{$k} += $1 if /\b$k="(\d+)"/ }
    }
    END {
        my $failed = $n{failures} + $n{errors};
        my $passed = $n{tests} - $failed - $n{skipped};
        print "$ENV{LABEL}: $passed passed, $failed failed, $n{skipped} skipped\n";
    }' "${reports[@]}"
