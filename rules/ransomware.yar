/*
 * ransomware.yar - ransom notes
 *
 * What:  a small text/HTML/RTF file (or a binary embedding the note text) that
 *        contains at least one strong ransom-note phrase ("your files have been
 *        encrypted", "to decrypt your files", "your important files", ...) AND at
 *        least three distinct ransom keywords (bitcoin, .onion, Tor browser,
 *        private key, decrypt, ransom, payment, wallet, "restore your files", ...).
 *        Generic phrases that backup/recovery software also uses ("restore your
 *        files", "recover your files") only count as keywords, not as strong
 *        phrases.
 *        ASCII and UTF-16LE, case-insensitive.
 * Why:   ransom notes are dropped in every directory; finding one means an
 *        incident is in progress. Ransomware binaries usually embed the note, so
 *        this also catches many payloads.
 * FPs:   security articles, crypto-currency and GnuPG documentation mention
 *        "bitcoin", "decrypt" or "private key" - a single keyword or several
 *        generic keywords without one of the strong phrases never match.
 *        News/blog pages *about* ransomware can quote note text; the size limit
 *        (notes are small) and the threshold keep this rare. "high".
 */

rule Vigil_Ransom_Note
{
    meta:
        id          = "VG-0014"
        description = "Ransom note text: a strong 'your files are encrypted' style phrase plus at least 3 ransom keywords"
        severity    = "high"
        category    = "ransomware"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $s1  = "your files have been encrypted" nocase ascii wide
        $s2  = "your files are encrypted" nocase ascii wide
        $s3  = "files have been encrypted by" nocase ascii wide
        $s4  = "to decrypt your files" nocase ascii wide
        $s5  = "all of your files have been" nocase ascii wide
        $s6  = "your important files" nocase ascii wide
        $s7  = "your network has been" nocase ascii wide
        $s8  = "files will be permanently" nocase ascii wide
        $s9  = "your files will be lost" nocase ascii wide

        // keywords are chosen not to overlap (e.g. "decryption key" would also
        // count as "decrypt"), so each one is independent evidence
        $w1  = "bitcoin" nocase ascii wide
        $w2  = ".onion" nocase ascii wide
        $w3  = "tor browser" nocase ascii wide
        $w4  = "private key" nocase ascii wide
        $w5  = "decrypt" nocase ascii wide
        $w6  = "ransom" nocase ascii wide
        $w7  = "payment" nocase ascii wide
        $w8  = "wallet" nocase ascii wide
        $w9  = "do not rename" nocase ascii wide
        $w10 = "monero" nocase ascii wide
        $w11 = "personal ID" nocase ascii wide
        $w12 = "contact us" nocase ascii wide
        $w13 = "recover your files" nocase ascii wide
        $w14 = "restore your files" nocase ascii wide

    condition:
        filesize < 2MB and
        any of ($s*) and
        3 of ($w*)
}
