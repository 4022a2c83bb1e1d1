/*
 * eicar.yar - EICAR anti-malware test file
 *
 * What:  the 68-byte EICAR test string (https://www.eicar.org/download-anti-malware-testfile/)
 *        at offset 0, optionally followed by whitespace only, total size <= 128 bytes.
 *        This mirrors how AV vendors treat the file: the string must be at the very
 *        beginning, and only trailing whitespace (space, TAB, CR, LF, Ctrl-Z) is allowed.
 * Why:   lets users and CI verify end to end that the scanner, rule loading and
 *        verdict mapping work. Reported "critical" so that the verdict is malicious,
 *        exactly as every AV product reports EICAR.
 * FPs:   none expected; the string is artificial. Files that merely *contain* the
 *        string (documentation, this very rule, test scripts) do not match because
 *        the string must start at offset 0 and the file must be tiny.
 *        (In the string below the backslash is escaped, so this file itself does
 *        not contain the literal test string.)
 */

rule Vigil_Test_EICAR
{
    meta:
        id          = "VG-0001"
        description = "EICAR anti-malware test file (standard 68-byte string at offset 0, optional trailing whitespace)"
        severity    = "critical"
        category    = "test"
        author      = "vigil project"
        date        = "2026-11-29"
        reference   = "https://www.eicar.org/download-anti-malware-testfile/"

    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

    condition:
        filesize >= 68 and filesize <= 128 and
        $eicar at 0 and
        (
            filesize == 68 or
            for all i in (68 .. filesize - 1) : (
                uint8(i) == 0x20 or uint8(i) == 0x09 or uint8(i) == 0x0A or
                uint8(i) == 0x0D or uint8(i) == 0x1A
            )
        )
}
