/*
 * powershell.yar - obfuscated / download-and-execute PowerShell
 *
 * What:  - Vigil_PowerShell_EncodedCommand: a powershell/pwsh command line using
 *          -EncodedCommand or any of its accepted abbreviations (-e, -ec, -en,
 *          -enc, -enco, ...) followed by at least 40 base64 characters.
 *        - Vigil_PowerShell_Base64IEX: FromBase64String(...) in the same script
 *          as Invoke-Expression / IEX (decode-then-execute).
 *        - Vigil_PowerShell_DownloadCradle: Net.WebClient DownloadString/Data or
 *          Invoke-WebRequest/Invoke-RestMethod combined with Invoke-Expression/IEX
 *          (download-and-execute cradle) AND a suspicious context: hidden window,
 *          cleartext http:// or raw-IP URL, or the cradle embedded in a
 *          powershell command line (bat/lnk/macro launching it).
 *        All strings are case-insensitive (PowerShell is) and matched both as
 *        ASCII and UTF-16LE ("wide"), since command lines are often embedded in
 *        LNK files, scheduled-task XML or other scripts as UTF-16.
 * Why:   the standard first stage of many intrusions (macro -> powershell -enc,
 *        malicious LNK/HTA, fileless persistence).
 * FPs:   some management tooling does launch "powershell -EncodedCommand" (e.g.
 *        deployment agents) and legit scripts may decode base64 and run IEX;
 *        however in a scanned *file* (not live telemetry) these are rare and
 *        strongly associated with malware, so those two rules are "high".
 *        Download cradles are also the documented install method of some
 *        legitimate tools (Chocolatey, Scoop: "irm get.scoop.sh | iex"), so
 *        Vigil_PowerShell_DownloadCradle is only "medium" and additionally
 *        requires a suspicious context (the Boxstarter/Chocolatey style
 *        "iex ((New-Object Net.WebClient).DownloadString('https://vendor/...'))"
 *        found in /usr/share/doc/nodejs/BUILDING.md does not match).
 *        Encoded-command regex requires the powershell/pwsh keyword on the same
 *        line and a long base64 run, so documentation mentioning "-enc" does not
 *        match. FromBase64String alone (very common in .NET) does not match.
 */

rule Vigil_PowerShell_EncodedCommand
{
    meta:
        id          = "VG-0006"
        description = "PowerShell launched with -EncodedCommand (or abbreviation) and a long base64 payload"
        severity    = "high"
        category    = "execution"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        // powershell[.exe] <up to 200 chars of other args> -e|-ec|-en...|-encodedcommand <base64 x40>
        $enc = /(powershell|pwsh)(\.exe)?['"]?[ \t][^\r\n]{0,200}[-\/]e(c|n[a-z]{0,12})?[ \t]+['"]?[A-Za-z0-9+\/]{40}/ nocase ascii wide

    condition:
        $enc
}

rule Vigil_PowerShell_Base64IEX
{
    meta:
        id          = "VG-0007"
        description = "PowerShell decodes base64 (FromBase64String) and executes it with Invoke-Expression/IEX"
        severity    = "high"
        category    = "execution"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $b64   = "FromBase64String" nocase ascii wide

        $iex1  = "Invoke-Expression" nocase ascii wide
        $iex2  = "iex(" nocase ascii wide
        $iex3  = "iex (" nocase ascii wide
        $iex4  = "iex $" nocase ascii wide
        $iex5  = "|iex" nocase ascii wide
        $iex6  = "| iex" nocase ascii wide
        $iex7  = "&(gcm i*x)" nocase ascii wide

    condition:
        filesize < 10MB and
        $b64 and any of ($iex*)
}

rule Vigil_PowerShell_DownloadCradle
{
    meta:
        id          = "VG-0008"
        description = "PowerShell download-and-execute cradle (WebClient/Invoke-WebRequest + IEX) with a suspicious context (hidden window, cleartext or raw-IP URL, one-liner command line)"
        severity    = "medium"
        category    = "dropper"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $wc    = "Net.WebClient" nocase ascii wide
        $xhr   = "Msxml2.XMLHTTP" nocase ascii wide
        $dl1   = ".DownloadString(" nocase ascii wide
        $dl2   = ".DownloadData(" nocase ascii wide
        $dl3   = ".ResponseText" nocase ascii wide

        $iwr1  = "Invoke-WebRequest" nocase ascii wide
        $iwr2  = "Invoke-RestMethod" nocase ascii wide
        $iwr3  = "iwr http" nocase ascii wide
        $iwr4  = "irm http" nocase ascii wide
        $iwr5  = "iwr -uri" nocase ascii wide
        $iwr6  = "irm -uri" nocase ascii wide

        $iex1  = "Invoke-Expression" nocase ascii wide
        $iex2  = "iex(" nocase ascii wide
        $iex3  = "iex (" nocase ascii wide
        $iex4  = "iex $" nocase ascii wide
        $iex5  = "|iex" nocase ascii wide
        $iex6  = "| iex" nocase ascii wide

        // suspicious context: hidden window, cleartext URL, raw IP URL, or the
        // whole cradle packed into a powershell command line
        $ctx1  = "-w hidden" nocase ascii wide
        $ctx2  = "-windowstyle hidden" nocase ascii wide
        $ctx3  = "-win hidden" nocase ascii wide
        $ctx4  = /Download(String|Data)\([ \t]{0,2}['"]http:\/\// nocase ascii wide
        $ctx5  = /Download(String|Data)\([ \t]{0,2}['"]https?:\/\/[0-9]{1,3}\.[0-9]{1,3}\./ nocase ascii wide
        $ctx6  = /(iwr|irm|Invoke-WebRequest|Invoke-RestMethod) (-uri )?['"]?(http:\/\/|https?:\/\/[0-9]{1,3}\.[0-9])/ nocase ascii wide
        $ctx7  = /(powershell|pwsh)(\.exe)?['"]?[ \t][^\r\n]{0,200}(DownloadString|DownloadData|Invoke-WebRequest|Invoke-RestMethod)/ nocase ascii wide

    condition:
        filesize < 10MB and
        (
            ($wc and ($dl1 or $dl2)) or
            ($xhr and $dl3) or
            any of ($iwr*)
        ) and
        any of ($iex*) and
        any of ($ctx*)
}
