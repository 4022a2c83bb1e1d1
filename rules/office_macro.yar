/*
 * office_macro.yar - auto-executing Office (VBA) macros with dangerous calls
 *
 * What:  - Vigil_Macro_AutoExecDangerous: VBA *source text* (as libclamav extracts
 *          and decompresses it from OLE2 / OOXML vbaProject.bin, or a .bas/.vba
 *          file) declaring an auto-exec entry point (Sub AutoOpen, Document_Open,
 *          Workbook_Open, Auto_Open, AutoExec, Document_Close, ...) AND calling
 *          something that runs or downloads code (Shell, WScript.Shell,
 *          Shell.Application, URLDownloadToFile, XMLHTTP/WinHttp, ADODB.Stream,
 *          powershell, cmd /c).
 *        - Vigil_Macro_OLE2AutoExec: the same idea on a *raw* OLE2 compound file
 *          (D0 CF 11 E0 A1 B1 1A E1): a VBA project storage ("_VBA_PROJECT"
 *          stream name, UTF-16LE in the directory) plus auto-exec and dangerous
 *          identifiers. VBA source inside OLE2 is compressed, but the identifier
 *          table of the _VBA_PROJECT stream keeps names such as "Document_Open",
 *          "Shell" or "URLDownloadToFile" as plain ASCII, so this works even when
 *          the macro cannot be decompressed.
 * Why:   malicious documents remain one of the most common initial-access vectors.
 * FPs:   some legitimate business macros do run code at open time
 *          (Workbook_Open + Shell to start a helper); a macro with auto-exec but no
 *          dangerous call (e.g. formatting a sheet) does not match, nor does a
 *          dangerous call without auto-exec. The text rule is "high" (needs an
 *          explicit auto-exec Sub declaration plus an execution/download call);
 *          the raw OLE2 rule is weaker evidence (identifier names only, which may
 *          come from comments or unused declarations) and is "medium".
 */

rule Vigil_Macro_AutoExecDangerous
{
    meta:
        id          = "VG-0009"
        description = "VBA macro source with an auto-exec entry point and a shell/download call"
        severity    = "high"
        category    = "macro"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $auto1  = "Sub AutoOpen" nocase
        $auto2  = "Sub Auto_Open" nocase
        $auto3  = "Sub Document_Open" nocase
        $auto4  = "Sub Workbook_Open" nocase
        $auto5  = "Sub AutoExec" nocase
        $auto6  = "Sub AutoClose" nocase
        $auto7  = "Sub Auto_Close" nocase
        $auto8  = "Sub Document_Close" nocase
        $auto9  = "Sub Workbook_BeforeClose" nocase
        $auto10 = "Sub Workbook_Activate" nocase
        $auto11 = "Sub Document_New" nocase
        $auto12 = "Sub AutoNew" nocase

        $bad1  = "Shell(" nocase
        $bad2  = "Shell \"" nocase
        $bad3  = "WScript.Shell" nocase
        $bad4  = "Shell.Application" nocase
        $bad5  = "URLDownloadToFile" nocase
        $bad6  = "MSXML2.XMLHTTP" nocase
        $bad7  = "MSXML2.ServerXMLHTTP" nocase
        $bad8  = "WinHttp.WinHttpRequest" nocase
        $bad9  = "ADODB.Stream" nocase
        $bad10 = "powershell" nocase
        $bad11 = "cmd.exe /c" nocase
        $bad12 = "cmd /c" nocase
        $bad13 = "CreateProcessA" nocase
        $bad14 = "ShellExecute" nocase

    condition:
        filesize < 20MB and
        any of ($auto*) and
        any of ($bad*)
}

rule Vigil_Macro_OLE2AutoExec
{
    meta:
        id          = "VG-0010"
        description = "OLE2 document with a VBA project referencing an auto-exec entry point and a shell/download API"
        severity    = "medium"
        category    = "macro"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $vba    = "_VBA_PROJECT" wide

        $auto1  = "AutoOpen" nocase
        $auto2  = "Auto_Open" nocase
        $auto3  = "Document_Open" nocase
        $auto4  = "Workbook_Open" nocase
        $auto5  = "AutoExec" nocase
        $auto6  = "Auto_Close" nocase
        $auto7  = "Document_Close" nocase
        $auto8  = "Workbook_BeforeClose" nocase

        $bad1  = "URLDownloadToFile" nocase
        $bad2  = "WScript.Shell" nocase
        $bad3  = "Shell.Application" nocase
        $bad4  = "ShellExecute" nocase
        $bad5  = "XMLHTTP" nocase
        $bad6  = "WinHttpRequest" nocase
        $bad7  = "ADODB.Stream" nocase
        $bad8  = "powershell" nocase
        $bad9  = "CreateProcessA" nocase
        // VBA Shell() as it appears in the identifier table (length-prefixed name)
        $bad10 = "Shell" fullword

    condition:
        uint32be(0) == 0xD0CF11E0 and uint32be(4) == 0xA1B11AE1 and
        $vba and
        any of ($auto*) and
        any of ($bad*)
}
