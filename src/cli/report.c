/* Report lines shared by causeway stress and causeway sim (see report.h).
 *
 * Invariants:
 *  1. A failure always prints a replay command, whole: every option that
 *     shaped the run, never an ellipsis (cli_command_line makes it).
 */
#include <stdio.h>

#include "report.h"

const char *cli_duration(double ns, char *buf, size_t cap)
{
    if (ns < 1e3)
        snprintf(buf, cap, "%.0f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, cap, "%.3g us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, cap, "%.3g ms", ns / 1e6);
    else
        snprintf(buf, cap, "%.3g s", ns / 1e9);
    return buf;
}

void cli_print_pairs(const cw_history_report *rep)
{
    printf("  concurrent pairs     %llu of %llu same-key pairs (ground truth)\n",
           (unsigned long long)rep->concurrent_pairs,
           (unsigned long long)(rep->concurrent_pairs + rep->ordered_pairs));
}

void cli_print_verdict(bool ok, const char *violation, const char *replay, const char *note)
{
    printf("  verdict              %s: causal order, exact concurrency, convergence, no loss%s\n",
           ok ? "PASS" : "FAIL", ok ? "" : " violated");
    if (!ok)
        printf("  violation            %s\n  replay               %s\n%s%s%s", violation ? violation : "(none recorded)",
               replay ? replay : "(out of memory)", note ? "                       (" : "", note ? note : "",
               note ? ")\n" : "");
}
